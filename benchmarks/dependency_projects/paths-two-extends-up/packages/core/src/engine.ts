import { clamp } from "#util";
import { Clock } from "#core/clock";
export const run = () => clamp(new Clock().now());
