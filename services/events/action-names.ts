import { ActionType } from '../../generated/feedloom/v1/common.js';

/** The action names the world's event files use, mapped to and from the proto enum. */

export const ACTION_NAMES = ['impression', 'click', 'save', 'hide'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

const TYPE_OF: Record<ActionName, ActionType> = {
  impression: ActionType.ACTION_TYPE_IMPRESSION,
  click: ActionType.ACTION_TYPE_CLICK,
  save: ActionType.ACTION_TYPE_SAVE,
  hide: ActionType.ACTION_TYPE_HIDE,
};

export const actionTypeOf = (name: ActionName): ActionType => TYPE_OF[name];

export function actionNameOf(type: ActionType): ActionName {
  const name = ACTION_NAMES.find((n) => TYPE_OF[n] === type);
  if (!name) throw new Error(`no action name for ActionType ${type}`);
  return name;
}

export const isActionName = (value: unknown): value is ActionName =>
  typeof value === 'string' && (ACTION_NAMES as readonly string[]).includes(value);
