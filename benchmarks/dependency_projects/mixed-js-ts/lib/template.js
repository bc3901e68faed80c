module.exports = "t";
