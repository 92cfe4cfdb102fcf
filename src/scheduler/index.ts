export { schedule, constraintHolds } from './schedule.js';
export type { ScheduleInput, ScheduleResult } from './schedule.js';
