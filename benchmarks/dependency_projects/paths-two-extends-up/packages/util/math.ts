export const clamp = (n: number) => n;
