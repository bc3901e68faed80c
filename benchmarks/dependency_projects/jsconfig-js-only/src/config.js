module.exports = { name: "x" };
