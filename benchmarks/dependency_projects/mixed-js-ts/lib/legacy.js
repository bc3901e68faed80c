const { format } = require("./format");
const mod = require(`./template`);
const dyn = require(name());
module.exports = { format, mod };
function name() { return "x"; }
