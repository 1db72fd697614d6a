// Refusal before the message: grpc-js runs a server's interceptors when a call's headers arrive,
// before its request is read or decoded, so an overloaded method answers UNAVAILABLE there and the
// call costs the thread nothing more. A call that passes is still admitted (or refused) by its
// handler wrapper (server.ts), which is also the only check on in-process calls (in-process.ts).
import { ServerInterceptingCall, type ServerInterceptor, type status } from '@grpc/grpc-js';
import type { AdmissionController } from './admission.js';
import { callDeadline } from './call-deadline.js';

/**
 * @param controllers admission controllers by method path ("/feedloom.v1.Blender/Blend")
 * @param onRefused told of each refusal (the server's duration metric)
 */
export function earlyRefusal(
  controllers: Map<string, AdmissionController>,
  maxDeadlineMs: number,
  onRefused: (path: string, code: status, started: number) => void,
): ServerInterceptor {
  return (method, call) => {
    const controller = controllers.get(method.path);
    if (!controller) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) => {
        const started = performance.now();
        const refused = controller.refusal(callDeadline(call.getDeadline(), maxDeadlineMs));
        if (!refused) return next();
        onRefused(method.path, refused.code, started);
        call.sendStatus({ code: refused.code, details: refused.message });
      },
    });
  };
}
