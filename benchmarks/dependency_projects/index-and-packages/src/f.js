module.exports = "f.js is shadowed by f.ts";
