export const fb = 1;
