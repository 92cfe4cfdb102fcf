export { schedule, Scheduler } from './schedule.js';
export type { ScheduleInput, ScheduleResult } from './schedule.js';
export { constraintHolds, eligibleNodes, parseCpus, parseMemory } from './filters.js';
export type { Strategy } from './filters.js';
