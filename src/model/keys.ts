import type { Task } from './types.js';

// Store keys are chosen so a prefix lists one project (or one service).
export const keys = {
  project: (name: string): string => name,
  service: (project: string, name: string): string => `${project}/${name}`,
  servicePrefix: (project: string): string => `${project}/`,
  task: (t: Pick<Task, 'project' | 'service' | 'id'>): string => `${t.project}/${t.service}/${t.id}`,
  taskPrefix: (project: string, service?: string): string => (service ? `${project}/${service}/` : `${project}/`),
  node: (id: string): string => id,
  /** Sealed registry credentials: one record per project. */
  registryAuth: (project: string): string => project,
  revision: (project: string, service: string, revision: number): string => `${project}/${service}/${String(revision).padStart(8, '0')}`,
  /** Secrets and configs: `${scope}/${name}/${version}`; scope is a project or "_" for created ones. */
  blob: (scope: string, name: string, version: string): string => `${scope}/${name}/${version}`,
  blobPrefix: (scope: string, name?: string): string => (name ? `${scope}/${name}/` : `${scope}/`),
  revisionPrefix: (project: string, service?: string): string => (service ? `${project}/${service}/` : `${project}/`),
};
