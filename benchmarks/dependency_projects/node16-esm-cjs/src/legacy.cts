import { a } from "./a.js";
const helper = require("./helper");
export = a;
