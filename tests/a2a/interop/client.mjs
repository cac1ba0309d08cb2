// An independent A2A 1.0 client, the A2A JavaScript SDK (@a2a-js/sdk), against `podium a2a serve`.
//
//   node client.mjs URL GATES_DIR NODE_MODULES
//
// The server serves interop.yaml: a message "wait NAME" works until the file GATES_DIR/NAME
// exists, anything else is answered at once. Over each transport the card offers (JSON-RPC,
// then HTTP+JSON) this script cancels a working task, sends blocking and streaming messages,
// follows a task with SubscribeToTask, gets and lists tasks and provokes the errors a client
// must be able to tell apart. It prints one JSON object: what each call returned, as the SDK's
// own JSON, or the error it raised (the SDK's error class names the A2A error).
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

// ES modules ignore NODE_PATH: load the SDK from the node_modules folder given.
const [url, gates, nodeModules] = process.argv.slice(2);
const require = createRequire(join(nodeModules, "_"));
const { Task, StreamResponse, ListTasksResponse, Role } = require("@a2a-js/sdk");
const {
  ClientFactory,
  ClientFactoryOptions,
  JsonRpcTransportFactory,
  RestTransportFactory,
} = require("@a2a-js/sdk/client");

const TRANSPORTS = ["JSONRPC", "HTTP+JSON"];

function request(text, id, { taskId = "", contextId = "", returnImmediately = false } = {}) {
  const part = { content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "" };
  return {
    tenant: "",
    message: {
      messageId: id,
      contextId,
      taskId,
      role: Role.ROLE_USER,
      parts: [part],
      metadata: undefined,
      extensions: [],
      referenceTaskIds: [],
    },
    configuration: {
      acceptedOutputModes: ["text/plain"],
      taskPushNotificationConfig: undefined,
      returnImmediately,
    },
    metadata: undefined,
  };
}

async function clientFor(transport) {
  const options = ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    transports: [new JsonRpcTransportFactory(), new RestTransportFactory()],
    preferredTransports: [transport],
  });
  return new ClientFactory(options).createFromUrl(url);
}

async function attempt(fn) {
  try {
    return { ok: await fn() };
  } catch (error) {
    return { error: { name: error?.constructor?.name ?? "unknown", message: String(error?.message ?? error) } };
  }
}

// Collects a stream; opens `gate` once the first event has arrived, so the task is seen working.
async function collect(stream, gate) {
  const events = [];
  for await (const event of stream) {
    events.push(StreamResponse.toJSON(event));
    if (events.length === 1) writeFileSync(join(gates, gate), "open");
  }
  return events;
}

const sent = (result) => ("status" in result ? { task: Task.toJSON(result) } : { message: result });
const taskRef = (id) => ({ tenant: "", id, metadata: undefined });

async function exercise(client, t) {
  const r = { protocol: client.transport.protocolName };
  r.started = await attempt(async () => sent(await client.sendMessage(request(`wait never-${t}`, `c-${t}`, { returnImmediately: true }))));
  const working = r.started.ok?.task?.id ?? "";
  r.canceled = await attempt(async () => Task.toJSON(await client.cancelTask(taskRef(working))));
  r.cancelAgain = await attempt(async () => Task.toJSON(await client.cancelTask(taskRef(working))));
  r.missing = await attempt(async () => Task.toJSON(await client.getTask({ tenant: "", id: "no-such-task" })));
  r.blocking = await attempt(async () => sent(await client.sendMessage(request(`hello ${t}`, `b-${t}`))));
  const done = r.blocking.ok?.task?.id ?? "";
  r.streamed = await attempt(() => collect(client.sendMessageStream(request(`wait stream-${t}`, `s-${t}`)), `stream-${t}`));
  r.subscribed = await attempt(async () => {
    const task = await client.sendMessage(request(`wait sub-${t}`, `r-${t}`, { returnImmediately: true }));
    return collect(client.resubscribeTask({ tenant: "", id: task.id }), `sub-${t}`);
  });
  r.got = await attempt(async () => Task.toJSON(await client.getTask({ tenant: "", id: done, historyLength: 0 })));
  r.gotFull = await attempt(async () => Task.toJSON(await client.getTask({ tenant: "", id: done })));
  r.listed = await attempt(async () =>
    ListTasksResponse.toJSON(
      await client.listTasks({
        tenant: "",
        contextId: "",
        status: 0,
        pageSize: 100,
        pageToken: "",
        statusTimestampAfter: undefined,
        includeArtifacts: true,
      }),
    ),
  );
  r.toFinished = await attempt(async () => sent(await client.sendMessage(request("approve", `f-${t}`, { taskId: done }))));
  r.wrongContext = await attempt(async () =>
    sent(await client.sendMessage(request("approve", `w-${t}`, { taskId: done, contextId: "another" }))),
  );
  return r;
}

const out = { transports: {} };
const card = await fetch(`${url}/.well-known/agent-card.json`);
out.card = { status: card.status, contentType: card.headers.get("content-type"), body: await card.json() };
for (const t of TRANSPORTS) {
  const client = await clientFor(t);
  out.transports[t] = { version: client.protocolVersion, ...(await exercise(client, t)) };
}
process.stdout.write(JSON.stringify(out));
