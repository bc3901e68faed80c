import { run } from "#core/engine";
import * as util from "#util";
export = run;
