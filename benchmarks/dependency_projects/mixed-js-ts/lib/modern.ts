import legacy = require("./legacy");
import * as fmt from "./format";
const t = require("./template");
const later = import("./lazy");
const computed = import("./" + "lazy");
export const m = [legacy, fmt, t];
