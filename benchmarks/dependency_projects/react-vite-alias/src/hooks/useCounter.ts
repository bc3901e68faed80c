import { useState } from "react";
export const useCounter = () => 1;
