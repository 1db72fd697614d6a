#!/usr/bin/env bash
# Installs the Debian packages feedloom needs, only those missing (apt-get update only when needed).
set -euo pipefail
# chromium: the status page's browser test (driven by playwright-core).
# dnsmasq, iproute2: the multi-host test (network namespaces as hosts, a real DNS server).
# nats-server: the events service's JetStream backend (services.events.backend: jetstream).
packages=(libfaiss-dev libopenblas-dev patchelf protobuf-compiler python3-torch python3-onnx python3-numpy cmake ninja-build g++ chromium dnsmasq iproute2 nats-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
