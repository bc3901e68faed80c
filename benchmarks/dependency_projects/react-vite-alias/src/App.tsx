import { Button } from "@/components";
import { useCounter } from "@/hooks/useCounter";
import type { Props } from "@/types";
export function App(p: Props) { return <Button n={useCounter()} />; }
