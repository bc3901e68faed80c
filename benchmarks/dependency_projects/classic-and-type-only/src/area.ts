import type { Shape } from "./shapes";
export type Area = number;
export const area = (s: Shape) => s.w;
