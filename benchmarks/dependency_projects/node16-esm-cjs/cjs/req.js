const x = require("./x");
const nocjs = require("./only");
module.exports = x;
