export class Clock { now() { return 0; } }
