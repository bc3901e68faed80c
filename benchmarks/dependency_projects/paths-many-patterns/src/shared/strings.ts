export const s = "";
