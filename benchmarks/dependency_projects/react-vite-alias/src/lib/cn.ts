export const cn = () => "";
