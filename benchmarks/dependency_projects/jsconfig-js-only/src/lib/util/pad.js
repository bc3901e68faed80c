module.exports.pad = (s) => s;
