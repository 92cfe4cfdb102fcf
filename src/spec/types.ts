// The normalized, typed shape of a Compose project after loading, interpolation,
// merging, validation and normalization. Field names follow the Compose
// Specification (snake_case) so `baton config` prints what `docker compose config`
// prints, and so users recognise every key.

/** A position in a source file, for error messages. Lines and columns are 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface PortConfig {
  target: number;
  /** Host port or range as Compose keeps it ("8080", "8080-8081"); absent when not published. */
  published?: string;
  host_ip?: string;
  protocol: 'tcp' | 'udp';
  mode: 'ingress' | 'host';
  name?: string;
  app_protocol?: string;
}

export interface HealthcheckConfig {
  /** ["CMD", ...], ["CMD-SHELL", "..."], or ["NONE"]. */
  test?: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  start_interval?: string;
  disable?: boolean;
}

export interface RestartPolicyConfig {
  condition?: 'none' | 'on-failure' | 'any';
  delay?: string;
  max_attempts?: number;
  window?: string;
}

export interface UpdateConfig {
  parallelism?: number;
  delay?: string;
  failure_action?: 'continue' | 'rollback' | 'pause';
  monitor?: string;
  max_failure_ratio?: number;
  order?: 'start-first' | 'stop-first';
}

export interface ResourceSpec {
  cpus?: string | number;
  memory?: string;
  pids?: number;
}

export interface DeployConfig {
  mode?: 'replicated' | 'global' | 'replicated-job' | 'global-job';
  replicas?: number;
  endpoint_mode?: 'vip' | 'dnsrr';
  labels?: Record<string, string>;
  restart_policy?: RestartPolicyConfig;
  update_config?: UpdateConfig;
  rollback_config?: UpdateConfig;
  resources?: { limits?: ResourceSpec; reservations?: ResourceSpec };
  placement?: {
    constraints?: string[];
    preferences?: { spread: string }[];
    max_replicas_per_node?: number;
  };
}

export interface DependsOnConfig {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  restart?: boolean;
  required: boolean;
}

export interface VolumeMountConfig {
  type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster';
  source?: string;
  target: string;
  read_only?: boolean;
  bind?: { propagation?: string; create_host_path?: boolean; selinux?: string };
  volume?: { nocopy?: boolean; subpath?: string };
  tmpfs?: { size?: number | string; mode?: number };
  consistency?: string;
}

export interface FileReferenceConfig {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface BuildConfig {
  context: string;
  dockerfile?: string;
  dockerfile_inline?: string;
  args?: Record<string, string | null>;
  target?: string;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

/** baton's own extension, `x-baton:` at top level or on a service. */
export interface BatonExtension {
  driver?: string;
  domain?: string | string[];
  path?: string;
  http_port?: number;
  timeout?: string;
  /** "acme", or a certificate given as files. */
  tls?: string | boolean | { cert?: string; key?: string };
  redirect_https?: boolean;
  /** How the mesh and the ingress pick a task: round-robin (default) or least-connections. */
  balance?: string;
  /** spread (default) or binpack. */
  placement?: string;
  [key: string]: unknown;
}

export interface ServiceConfig {
  name: string;
  image?: string;
  build?: BuildConfig;
  /** null when the file sets it to null explicitly (Compose resets to image default). */
  command?: string[] | null;
  entrypoint?: string[] | null;
  /** env_file contents merged in, then `environment`; null means "declared, unset". */
  environment: Record<string, string | null>;
  working_dir?: string;
  user?: string;
  hostname?: string;
  labels: Record<string, string>;
  ports: PortConfig[];
  expose: string[];
  healthcheck?: HealthcheckConfig;
  restart?: string;
  deploy?: DeployConfig;
  depends_on: Record<string, DependsOnConfig>;
  scale?: number;
  profiles: string[];
  networks: Record<string, { aliases?: string[]; ipv4_address?: string; ipv6_address?: string; priority?: number } | null>;
  volumes: VolumeMountConfig[];
  secrets: FileReferenceConfig[];
  configs: FileReferenceConfig[];
  stop_signal?: string;
  stop_grace_period?: string;
  pull_policy?: string;
  init?: boolean;
  tty?: boolean;
  stdin_open?: boolean;
  'x-baton'?: BatonExtension;
  /** Every other Compose key, kept as loaded (already interpolated). */
  [key: string]: unknown;
}

export interface NetworkConfig {
  name: string;
  driver?: string;
  external?: boolean;
  internal?: boolean;
  attachable?: boolean;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

export interface VolumeConfig {
  name: string;
  driver?: string;
  external?: boolean;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

export interface SecretConfig {
  name: string;
  file?: string;
  environment?: string;
  content?: string;
  external?: boolean;
  [key: string]: unknown;
}

export interface ComposeProject {
  name: string;
  /** Absolute folder that relative paths resolve against. */
  workingDir: string;
  /** Absolute paths of the files loaded, in merge order. */
  files: string[];
  services: Record<string, ServiceConfig>;
  networks: Record<string, NetworkConfig>;
  volumes: Record<string, VolumeConfig>;
  secrets: Record<string, SecretConfig>;
  configs: Record<string, SecretConfig>;
  /** Top-level `models:` (AI models a provider runs), by key, as written. */
  models?: Record<string, Record<string, unknown>>;
  'x-baton'?: BatonExtension;
  [key: string]: unknown;
}

export interface LoadOptions {
  /** -f files as given (relative to cwd); empty means discover compose.yaml & co. in projectDir/cwd. */
  files?: string[];
  /** --project-directory; defaults to the folder of the first file. */
  projectDir?: string;
  /** -p */
  projectName?: string;
  /** --profile (merged with COMPOSE_PROFILES) */
  profiles?: string[];
  /** --env-file (replaces the default .env) */
  envFiles?: string[];
  /** The process environment; defaults to process.env. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Skip interpolation (config --no-interpolate). */
  noInterpolate?: boolean;
}

export interface SpecProblem {
  file: string;
  line?: number;
  col?: number;
  /** Key path, e.g. services.web.ports[0] */
  path: string;
  message: string;
}
