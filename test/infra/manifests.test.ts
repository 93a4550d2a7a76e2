// Checks the deployment files under infra/ offline: every YAML parses, every Kubernetes object
// validates against its OpenAPI schema (kubernetes-models, @kubernetes-models/keda), the compose
// file validates against the Compose Specification schema (the copy shipped in the dclint
// package), and the facts that tie the files to each other and to the code hold.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as keda from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { configSchema, loadConfig, QUEUES } from "@mediaq/shared";
import { Ajv } from "ajv";
import { QueueKeys } from "bullmq";
import * as appsV1 from "kubernetes-models/apps/v1";
import * as policyV1 from "kubernetes-models/policy/v1";
import * as coreV1 from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const infra = path.join(repo, "infra");
const k8sDir = path.join(infra, "k8s");

// Parsed YAML/JSON, checked field by field by the tests below.
// biome-ignore lint/suspicious/noExplicitAny: the shape is what the tests assert.
type Obj = any;

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

/** Every document of a YAML file; a syntax error or duplicate key throws with the file name. */
function readYaml(file: string): Obj[] {
  // merge: compose uses `<<: *anchor` merge keys.
  const docs = parseAllDocuments(fs.readFileSync(file, "utf8"), { merge: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const errors = list.flatMap((d) => d.errors.map((e) => e.message));
  if (errors.length) throw new Error(`${path.relative(repo, file)}: ${errors.join("; ")}`);
  return list.map((d) => d.toJS()).filter((d) => d != null);
}

const yamlFiles = walk(infra).filter((f) => /\.ya?ml$/.test(f));
const k8sFiles = yamlFiles.filter((f) => f.startsWith(k8sDir + path.sep) && path.basename(f) !== "kustomization.yaml");
const k8sObjects = (): Obj[] => k8sFiles.flatMap(readYaml);
const composeFile = path.join(infra, "docker-compose.yml");

// Model classes by apiVersion; `.validate()` checks an object against the bundled JSON schema.
const models: Record<string, Record<string, unknown>> = {
  v1: coreV1,
  "apps/v1": appsV1,
  "policy/v1": policyV1,
  "keda.sh/v1alpha1": keda,
};

function validateK8s(obj: Obj): void {
  const Model = models[obj.apiVersion]?.[obj.kind] as (new (data: Obj) => { validate(): void }) | undefined;
  if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind} (add its models to this test)`);
  new Model(obj).validate();
}

function byKind(objs: Obj[], kind: string): Obj[] {
  return objs.filter((o) => o.kind === kind);
}
function one(objs: Obj[], kind: string, name: string): Obj {
  const found = objs.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in infra/k8s`);
  return found;
}
function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

// The metrics the dashboard may chart: the names the services export (docs/architecture.md).
const HISTOGRAMS = [
  "mediaq_job_duration_seconds",
  "mediaq_stage_duration_seconds",
  "mediaq_inference_seconds",
  "mediaq_http_request_duration_seconds",
];
const GAUGES = ["mediaq_queue_jobs", "mediaq_scratch_bytes"];
const COUNTERS = ["mediaq_bytes_uploaded_total", "mediaq_package_bytes_total"];
const METRICS = [...HISTOGRAMS, ...GAUGES, ...COUNTERS];
const SERIES = new Set([
  ...GAUGES,
  ...COUNTERS,
  ...HISTOGRAMS.flatMap((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`]),
]);

const PROMQL_WORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "inf",
  "nan",
]);

/** Metric names a PromQL expression selects: identifiers outside strings, label matchers,
 * ranges and grouping clauses that are not function calls or keywords. */
function promqlMetricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const [, word = "", call] = m;
    if (call || PROMQL_WORDS.has(word.toLowerCase()) || word.startsWith("$")) continue;
    const before = bare[m.index - 1];
    if (before === "$") continue; // Grafana variables such as $__rate_interval
    names.add(word);
  }
  return [...names];
}

describe("infra YAML", () => {
  it("finds the deployment files", () => {
    const rel = yamlFiles.map((f) => path.relative(infra, f));
    expect(rel).toEqual(
      expect.arrayContaining([
        "docker-compose.yml",
        "prometheus/prometheus.yml",
        "k8s/kustomization.yaml",
        "grafana/provisioning/datasources/prometheus.yml",
        "grafana/provisioning/dashboards/mediaq.yml",
      ]),
    );
  });

  it.each(yamlFiles.map((f) => [path.relative(infra, f), f]))("%s parses", (_rel, file) => {
    expect(readYaml(file).length).toBeGreaterThan(0);
  });
});

describe("Kubernetes manifests", () => {
  it.each(k8sFiles.flatMap((f) => readYaml(f).map((o) => [`${path.basename(f)}: ${o.kind} ${o.metadata?.name}`, o])))(
    "%s matches its schema",
    (_name, obj) => {
      expect(obj.metadata?.namespace, "manifests stay namespace-free").toBeUndefined();
      validateK8s(obj as Obj);
    },
  );

  it("the schema check rejects a broken object", () => {
    const deployment = structuredClone(one(k8sObjects(), "Deployment", "mediaq-api"));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = "eight thousand";
    expect(() => validateK8s(deployment)).toThrow(/containerPort/);
    const scaled = structuredClone(byKind(k8sObjects(), "ScaledObject")[0]);
    scaled.spec.minReplicaCount = "zero";
    expect(() => validateK8s(scaled)).toThrow(/minReplicaCount/);
  });

  it("kustomization lists exactly the manifests in infra/k8s", () => {
    const kustomization = parse(fs.readFileSync(path.join(k8sDir, "kustomization.yaml"), "utf8"));
    expect(kustomization.kind).toBe("Kustomization");
    expect([...kustomization.resources].sort()).toEqual(k8sFiles.map((f) => path.basename(f)).sort());
    const objs = k8sObjects();
    const images = objs.flatMap((o) => o.spec?.template?.spec?.containers ?? []).map((c: Obj) => c.image);
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) expect(kustomization.images.map((i: Obj) => i.name)).toContain(image);
  });

  it("Deployments select their own pods and read existing ConfigMaps and Secrets", () => {
    const objs = k8sObjects();
    const names = (kind: string) => byKind(objs, kind).map((o) => o.metadata.name);
    for (const d of byKind(objs, "Deployment")) {
      expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels), d.metadata.name).toBe(true);
      const spec = d.spec.template.spec;
      expect(spec.securityContext.runAsNonRoot, `${d.metadata.name} runs as non-root`).toBe(true);
      for (const c of spec.containers) {
        for (const from of c.envFrom ?? []) {
          if (from.configMapRef) expect(names("ConfigMap")).toContain(from.configMapRef.name);
          if (from.secretRef) expect(names("Secret")).toContain(from.secretRef.name);
        }
        for (const m of c.volumeMounts ?? []) expect(spec.volumes.map((v: Obj) => v.name)).toContain(m.name);
      }
    }
  });

  it("every pod is scraped on the port its service serves /metrics on", () => {
    const objs = k8sObjects();
    const cm = one(objs, "ConfigMap", "mediaq-config");
    for (const d of byKind(objs, "Deployment")) {
      const annotations = d.spec.template.metadata.annotations;
      const [container] = d.spec.template.spec.containers;
      expect(annotations["prometheus.io/scrape"], d.metadata.name).toBe("true");
      expect(annotations["prometheus.io/path"]).toBe("/metrics");
      // The API too: its metrics are never on the public port (README "Security model").
      const expected = cm.data.METRICS_PORT;
      expect(annotations["prometheus.io/port"], d.metadata.name).toBe(expected);
      expect(container.ports.map((p: Obj) => String(p.containerPort))).toContain(expected);
    }
  });

  it("the API has a Service and probes on /healthz and /readyz", () => {
    const objs = k8sObjects();
    const api = one(objs, "Deployment", "mediaq-api");
    const container = api.spec.template.spec.containers[0];
    const portNames = container.ports.map((p: Obj) => p.name);
    expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    for (const probe of [container.livenessProbe, container.readinessProbe])
      expect(portNames).toContain(probe.httpGet.port);
    const http = container.ports.find((p: Obj) => p.name === container.readinessProbe.httpGet.port);
    const cm = one(objs, "ConfigMap", "mediaq-config");
    expect(String(http.containerPort)).toBe(cm.data.API_PORT);
    const service = one(objs, "Service", "mediaq-api");
    expect(matches(service.spec.selector, api.spec.template.metadata.labels)).toBe(true);
    for (const p of service.spec.ports) expect(portNames).toContain(p.targetPort);
  });

  it("the GPU worker asks for exactly one card and may finish its job on shutdown", () => {
    const worker = one(k8sObjects(), "Deployment", "mediaq-worker-gpu");
    const spec = worker.spec.template.spec;
    expect(spec.containers).toHaveLength(1);
    const [container] = spec.containers;
    expect(container.resources.limits["nvidia.com/gpu"]).toBe(1);
    expect(container.env).toEqual(expect.arrayContaining([{ name: "ORT_EXECUTION_PROVIDER", value: "cuda" }]));
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(600);
    expect(worker.spec.replicas, "KEDA owns the replica count").toBeUndefined();
  });

  it("PodDisruptionBudgets cover the API and the GPU worker", () => {
    const objs = k8sObjects();
    const pdbs = byKind(objs, "PodDisruptionBudget");
    for (const name of ["mediaq-api", "mediaq-worker-gpu"]) {
      const labels = one(objs, "Deployment", name).spec.template.metadata.labels;
      expect(
        pdbs.filter((p) => matches(p.spec.selector.matchLabels, labels)),
        `a PDB selects ${name}`,
      ).toHaveLength(1);
    }
  });

  it("KEDA scales the GPU worker from zero on BullMQ's inference wait list", () => {
    const objs = k8sObjects();
    const [scaled] = byKind(objs, "ScaledObject");
    const target = one(objs, "Deployment", scaled.spec.scaleTargetRef.name);
    expect(target.spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"]).toBe(1);
    expect(scaled.spec.minReplicaCount).toBe(0);
    const cm = one(objs, "ConfigMap", "mediaq-config");
    // The key BullMQ itself uses for waiting jobs, under the prefix the services are given.
    const keys = new QueueKeys(cm.data.QUEUE_PREFIX).getKeys(QUEUES.inference);
    expect(keys.wait).toBe("mediaq:inference:wait");
    const redisTriggers = scaled.spec.triggers.filter((t: Obj) => t.type === "redis");
    const waiting = redisTriggers.find((t: Obj) => t.metadata.listName === keys.wait);
    expect(waiting, "a redis trigger on the wait list").toBeDefined();
    expect(Number(waiting.metadata.listLength)).toBeGreaterThan(0);
    for (const t of redisTriggers) {
      expect(Object.values(keys)).toContain(t.metadata.listName);
      const auth = one(objs, "TriggerAuthentication", t.authenticationRef.name);
      const params = [...(auth.spec.configMapTargetRef ?? []), ...(auth.spec.secretTargetRef ?? [])];
      expect(params.map((p: Obj) => p.parameter)).toContain("address");
    }
  });

  it("KEDA's Redis address and password agree with the services' REDIS_URL", () => {
    const objs = k8sObjects();
    const [auth] = byKind(objs, "TriggerAuthentication");
    const value = (p: Obj, kind: "ConfigMap" | "Secret") => {
      const source = one(objs, kind, p.name);
      const v = kind === "ConfigMap" ? source.data?.[p.key] : source.stringData?.[p.key];
      expect(v, `${kind} ${p.name} has ${p.key}`).toBeDefined();
      return v as string;
    };
    const params: Record<string, string> = {};
    for (const p of auth.spec.configMapTargetRef ?? []) params[p.parameter] = value(p, "ConfigMap");
    for (const p of auth.spec.secretTargetRef ?? []) params[p.parameter] = value(p, "Secret");
    const secret = one(objs, "Secret", "mediaq-secrets");
    const url = new URL(secret.stringData.REDIS_URL);
    expect(params.address).toBe(`${url.hostname}:${url.port || "6379"}`);
    expect(params.password ?? "").toBe(decodeURIComponent(url.password));
  });

  it("ConfigMap + Secret form a valid mediaq configuration; the Secret is marked as an example", () => {
    const objs = k8sObjects();
    const cm = one(objs, "ConfigMap", "mediaq-config");
    const secret = one(objs, "Secret", "mediaq-secrets");
    expect(Object.keys(secret.stringData)).toEqual(
      expect.arrayContaining(["API_KEYS", "ADMIN_KEY", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]),
    );
    expect(JSON.stringify(secret.metadata.annotations)).toMatch(/example/i);
    for (const v of Object.values(secret.stringData)) expect(String(v)).toMatch(/example/i);
    const env = { ...cm.data, ...secret.stringData };
    // Keys only KEDA reads, outside the services' zod schema.
    const extra = new Set(["REDIS_ADDRESS", "REDIS_PASSWORD"]);
    for (const key of Object.keys(env)) expect(key in configSchema.shape || extra.has(key), key).toBe(true);
    expect(() => loadConfig(env)).not.toThrow();
  });
});

describe("docker-compose.yml", () => {
  const compose = () => readYaml(composeFile)[0];
  const services = () => compose().services as Record<string, Obj>;
  const mediaqServices = ["api", "packager", "worker-gpu", "worker-cpu"];

  const schemaFile = path.join(
    path.dirname(createRequire(import.meta.url).resolve("dclint/package.json")),
    "schemas/compose.schema.json",
  );
  // The schema is draft-07 (Ajv's default) but names it by an https URL Ajv does not know.
  const { $schema: _draft, ...composeSchema } = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
  const validateCompose = new Ajv({ strict: false, allErrors: true }).compile(composeSchema);
  const errorsOf = (doc: Obj) =>
    validateCompose(doc) ? [] : (validateCompose.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);

  it("matches the Compose Specification schema", () => {
    expect(errorsOf(compose())).toEqual([]);
  });

  it("the schema check rejects a broken compose file", () => {
    const broken = compose();
    broken.services.api.healthcheck.retries = "many";
    broken.services.redis.comand = ["redis-server"];
    expect(errorsOf(broken).length).toBeGreaterThan(0);
  });

  it("every service has an image or a build whose Dockerfile exists", () => {
    const built = new Map<string, Obj>();
    for (const [name, svc] of Object.entries(services())) {
      expect(svc.image ?? svc.build, `${name} has image or build`).toBeTruthy();
      if (!svc.build) continue;
      const context = path.resolve(infra, svc.build.context);
      expect(fs.existsSync(path.join(context, "package.json")), `${name} builds from the repository root`).toBe(true);
      expect(fs.existsSync(path.resolve(context, svc.build.dockerfile)), `${name}: ${svc.build.dockerfile}`).toBe(true);
      // Services sharing an image tag must build it the same way.
      if (svc.image) {
        if (built.has(svc.image)) expect(svc.build).toEqual(built.get(svc.image));
        built.set(svc.image, svc.build);
      }
    }
    for (const [name, svc] of Object.entries(services())) {
      if (/:local$/.test(svc.image ?? ""))
        expect(built.has(svc.image), `${name}: ${svc.image} is built here`).toBe(true);
    }
  });

  it("dependencies, volumes and bind mounts resolve", () => {
    const all = services();
    const volumes = Object.keys(compose().volumes ?? {});
    for (const [name, svc] of Object.entries(all)) {
      for (const [dep, { condition }] of Object.entries<Obj>(svc.depends_on ?? {})) {
        expect(all[dep], `${name} depends on ${dep}`).toBeDefined();
        if (condition === "service_healthy") expect(all[dep].healthcheck, `${dep} has a healthcheck`).toBeDefined();
        if (condition === "service_completed_successfully") expect(all[dep].restart).toBe("no");
      }
      for (const mount of svc.volumes ?? []) {
        const [source = ""] = String(mount).split(":");
        if (source.startsWith(".")) expect(fs.existsSync(path.resolve(infra, source)), `${name}: ${source}`).toBe(true);
        else expect(volumes, `${name}: volume ${source} is declared`).toContain(source);
      }
    }
    for (const name of mediaqServices) expect(all[name].healthcheck, `${name} has a healthcheck`).toBeDefined();
  });

  it("Redis keeps an append-only file and never evicts keys", () => {
    const command = services().redis.command.join(" ");
    expect(services().redis.image).toMatch(/^redis:7/);
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--appendfsync everysec/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
  });

  it("worker-gpu reserves one NVIDIA GPU; worker-cpu is behind the cpu profile", () => {
    const gpu = services()["worker-gpu"];
    expect(gpu.deploy.resources.reservations.devices).toEqual([{ driver: "nvidia", count: 1, capabilities: ["gpu"] }]);
    expect(gpu.environment.ORT_EXECUTION_PROVIDER).toBe("cuda");
    expect(gpu.build.dockerfile).toMatch(/Dockerfile\.gpu$/);
    const cpu = services()["worker-cpu"];
    expect(cpu.profiles).toEqual(["cpu"]);
    expect(cpu.environment.ORT_EXECUTION_PROVIDER).toBe("cpu");
  });

  it("each mediaq service's environment is a valid configuration", () => {
    // ${VAR:-default} as compose would expand it with VAR unset.
    const expand = (v: unknown) => String(v).replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, "$1");
    for (const name of mediaqServices) {
      const svc = services()[name];
      expect(svc.command, name).toEqual([name.startsWith("worker") ? "worker" : name]);
      const env = Object.fromEntries(Object.entries<string>(svc.environment).map(([k, v]) => [k, expand(v)]));
      for (const key of Object.keys(env)) expect(key in configSchema.shape, key).toBe(true);
      const config = loadConfig(env);
      expect(new URL(config.REDIS_URL).hostname).toBe("redis");
      expect(services()[new URL(config.S3_ENDPOINT!).hostname]).toBeDefined();
      expect(config.S3_BUCKET).toBe(expand(services()["minio-init"].environment.S3_BUCKET));
    }
  });

  it("presigned links are signed for MinIO's published port while the services use minio:9000", () => {
    // ${VAR:-default} as `docker compose config` expands it with VAR unset.
    const expand = (v: unknown) => String(v).replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, "$1");
    const published = new Map(
      services().minio.ports.map((p: string) => {
        const [container = "", host = ""] = p.split(":").reverse();
        return [container, host];
      }),
    );
    for (const name of [...mediaqServices, "notifier"]) {
      const env = services()[name].environment;
      const config = loadConfig(Object.fromEntries(Object.entries<string>(env).map(([k, v]) => [k, expand(v)])));
      const inside = new URL(config.S3_ENDPOINT as string);
      const outside = new URL(config.S3_PUBLIC_ENDPOINT as string);
      expect(outside.hostname, name).toBe("localhost");
      expect(outside.port, name).toBe(published.get(inside.port));
      expect(config.S3_FORCE_PATH_STYLE, `${name}: MinIO serves path-style links`).toBe(true);
    }
    expect(fs.readFileSync(composeFile, "utf8")).not.toMatch(/etc\/hosts/);
  });

  it("Prometheus scrapes api, worker and packager at their compose names and ports", () => {
    const prometheus = readYaml(path.join(infra, "prometheus/prometheus.yml"))[0];
    const jobs = new Map<string, Obj>(prometheus.scrape_configs.map((j: Obj) => [j.job_name, j]));
    // Every service, the API included, serves metrics on METRICS_PORT (README "Security model").
    const portOf = (svc: Obj) => Number(svc.environment.METRICS_PORT);
    const expected: Record<string, string[]> = {
      api: ["api"],
      worker: ["worker-gpu", "worker-cpu"],
      packager: ["packager"],
    };
    for (const [job, names] of Object.entries(expected)) {
      const config = jobs.get(job);
      expect(config, `scrape job ${job}`).toBeDefined();
      const targets = (config!.dns_sd_configs ?? []).flatMap((d: Obj) => d.names.map((n: string) => [n, d.port]));
      expect(targets.map(([n]: [string]) => n).sort()).toEqual([...names].sort());
      for (const [n, port] of targets) expect(port, `${job} -> ${n}`).toBe(portOf(services()[n]));
    }
    expect(services().prometheus.volumes).toContain("./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro");
  });

  it("Grafana is provisioned with the Prometheus datasource and the mediaq dashboard", () => {
    const grafana = services().grafana;
    const mountOf = (source: string) =>
      grafana.volumes.map((v: string) => v.split(":")).find(([s]: string[]) => s === source)?.[1];
    expect(mountOf("./grafana/provisioning")).toBe("/etc/grafana/provisioning");
    const provider = readYaml(path.join(infra, "grafana/provisioning/dashboards/mediaq.yml"))[0].providers[0];
    expect(provider.options.path).toBe(mountOf("./grafana/dashboards"));
    const [datasource] = readYaml(path.join(infra, "grafana/provisioning/datasources/prometheus.yml"))[0].datasources;
    const url = new URL(datasource.url);
    expect(services()[url.hostname]).toBeDefined();
    expect(services()[url.hostname].healthcheck.test.join(" ")).toContain(`:${url.port}/`);
  });
});

describe("Grafana dashboard", () => {
  const dashboard = () => JSON.parse(fs.readFileSync(path.join(infra, "grafana/dashboards/mediaq.json"), "utf8"));
  const datasourceUid = () =>
    readYaml(path.join(infra, "grafana/provisioning/datasources/prometheus.yml"))[0].datasources[0].uid;
  const queries = (d: Obj): string[] => [
    ...d.panels.flatMap((p: Obj) => (p.targets ?? []).map((t: Obj) => t.expr)),
    ...d.templating.list.map((v: Obj) => (typeof v.query === "string" ? v.query : v.query.query)),
  ];
  const metricsOf = (expr: string) =>
    promqlMetricNames(expr.replace(/^label_values\(\s*([A-Za-z_:][\w:]*)\s*,.*\)$/, "$1"));

  it("has panels with unique ids, positions and queries on the provisioned datasource", () => {
    const d = dashboard();
    expect(d.uid).toBeTruthy();
    const ids = d.panels.map((p: Obj) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of d.panels) {
      expect(p.gridPos, p.title).toMatchObject({ w: expect.any(Number), h: expect.any(Number) });
      if (p.type === "row") continue;
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) {
        expect(t.datasource.uid, p.title).toBe(datasourceUid());
        expect(metricsOf(t.expr).length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
      }
    }
  });

  it("charts only the metrics mediaq exports, and each of them", () => {
    const used = new Set(queries(dashboard()).flatMap(metricsOf));
    for (const name of used) expect(SERIES, `unknown metric ${name}`).toContain(name);
    for (const metric of METRICS) {
      expect(
        [...used].some((u) => u === metric || u.startsWith(`${metric}_`)),
        `a panel charts ${metric}`,
      ).toBe(true);
    }
  });

  it("every charted metric is registered by a service's source", () => {
    const root = path.resolve(import.meta.dirname, "../../packages");
    const sources = fs
      .readdirSync(root)
      .flatMap((pkg) => (fs.existsSync(path.join(root, pkg, "src")) ? listTs(path.join(root, pkg, "src")) : []))
      .filter((f) => !f.endsWith(".test.ts"))
      .map((f) => fs.readFileSync(f, "utf8"))
      .join("\n");
    for (const metric of METRICS) expect(sources, `no service registers ${metric}`).toContain(`name: "${metric}"`);
  });

  it("the metric-name check catches a misspelt metric", () => {
    expect(
      metricsOf('sum by (queue) (rate(mediaq_job_duration_secnds_bucket{queue=~"$queue"}[$__rate_interval]))'),
    ).toEqual(["mediaq_job_duration_secnds_bucket"]);
    expect(metricsOf("label_values(mediaq_queue_jobs, queue)")).toEqual(["mediaq_queue_jobs"]);
  });
});

describe("Dockerfiles", () => {
  const read = (name: string) => fs.readFileSync(path.join(infra, "docker", name), "utf8");
  const workspaceManifests = () => [
    ...fs
      .readdirSync(path.join(repo, "packages"))
      .filter((p) => fs.existsSync(path.join(repo, "packages", p, "package.json")))
      .map((p) => `packages/${p}/package.json`),
    "test/package.json",
  ];

  it.each(["Dockerfile", "Dockerfile.gpu"])("%s installs every workspace package from the lockfile", (name) => {
    const text = read(name);
    // --frozen-lockfile fails when a workspace package's manifest is missing from the deps stage.
    for (const manifest of workspaceManifests()) expect(text, manifest).toContain(`COPY ${manifest} `);
    // and the patches pnpm-workspace.yaml applies (patchedDependencies)
    const workspace = parse(fs.readFileSync(path.join(repo, "pnpm-workspace.yaml"), "utf8"));
    for (const file of Object.values<string>(workspace.patchedDependencies ?? {})) {
      expect(fs.existsSync(path.join(repo, file)), file).toBe(true);
      expect(text, file).toContain(`COPY ${path.dirname(file)}/ `);
    }
    expect(text).toContain("pnpm install --frozen-lockfile --prod --no-optional");
    expect(text).toMatch(/^USER 10001/m);
    expect(text).toContain('ENTRYPOINT ["node", "packages/cli/bin/mediaq.js"]');
    expect(fs.existsSync(path.join(repo, "packages/cli/bin/mediaq.js"))).toBe(true);
  });

  it("the CPU image is Node 26 with Debian's ffmpeg; the GPU image adds onnxruntime's CUDA build", () => {
    expect(read("Dockerfile")).toMatch(/^ARG NODE_IMAGE=node:26-trixie-slim$/m);
    expect(read("Dockerfile")).toMatch(/apt-get install[^\n]*\bffmpeg\b/);
    const gpu = read("Dockerfile.gpu");
    expect(gpu).toMatch(/^ARG CUDA_IMAGE=nvidia\/cuda:12[.\d]+-cudnn-runtime-/m);
    expect(gpu).toContain("ONNXRUNTIME_NODE_INSTALL_CUDA=v12 node script/install");
    const worker = JSON.parse(fs.readFileSync(path.join(repo, "packages/worker/package.json"), "utf8"));
    expect(worker.dependencies["onnxruntime-node"]).toBeDefined();
    expect(gpu).toContain("cd packages/worker/node_modules/onnxruntime-node");
  });
});

function listTs(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return listTs(full);
    return e.name.endsWith(".ts") ? [full] : [];
  });
}
