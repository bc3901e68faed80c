import { cn } from "@/lib/cn";
export const Button = (p: { n: number }) => <button className={cn()}>{p.n}</button>;
