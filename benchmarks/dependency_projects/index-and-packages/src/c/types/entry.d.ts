declare const c: number; export default c;
