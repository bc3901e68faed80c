import type { Shape } from "../../shapes";
import { type Area, area } from "../../area";
import { helper } from "helper";
export const c = (s: Shape): Area => area(s) + helper();
