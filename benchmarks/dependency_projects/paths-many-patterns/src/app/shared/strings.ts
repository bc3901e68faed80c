export const s = "shadowed";
