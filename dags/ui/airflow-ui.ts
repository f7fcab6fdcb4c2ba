/**
 * The Airflow UI in a real browser (headless Chromium through playwright-core), against the
 * standalone Airflow that dags/scripts/ui-test.sh started for it (`make test-airflow-ui`):
 *
 *   1. sign in (simple auth manager: admin and the password the standalone script set);
 *   2. open pinpipe_daily and trigger day D from the trigger form, with params changed from their
 *      defaults (require_stream off, wait_minutes 2), after checking that the form shows every
 *      param of the DAG with the value it will send (airflow-trigger.png: the whole dialog);
 *   3. watch the run reach success in the grid;
 *   4. open daily_transform's log and find the job's own JSON log lines in it;
 *   5. open the backfill form and check it offers pinpipe_daily (a dry run for D, not started);
 *   6. check through the REST API that D's run is the only run: nothing was scheduled by itself.
 *
 * Any step that fails ends the process with exit code 1 after a screenshot of the page
 * (failed-<step>.png); the screenshots of the steps land in $PINPIPE_UI_ARTIFACTS.
 *
 * Settings: PINPIPE_UI_URL, PINPIPE_AIRFLOW_PASSWORD, PINPIPE_UI_DAY (YYYY-MM-DD, seeded in the
 * lake), PINPIPE_UI_ARTIFACTS (default out/airflow-ui), PINPIPE_CHROMIUM (default
 * /usr/bin/chromium), PINPIPE_UI_RUN_TIMEOUT_S (how long the run may take, default 900).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { browserSteps } from '../../jobs/test/ui/step.js';

const DAG_ID = 'pinpipe_daily';
const USER = 'admin';

function setting(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`${name} is not set (dags/scripts/ui-test.sh sets it)`);
  return value;
}

const base = setting('PINPIPE_UI_URL').replace(/\/$/, '');
const password = setting('PINPIPE_AIRFLOW_PASSWORD');
const day = setting('PINPIPE_UI_DAY');
const artifacts = setting('PINPIPE_UI_ARTIFACTS', 'out/airflow-ui');
const executablePath = setting('PINPIPE_CHROMIUM', '/usr/bin/chromium');
const runTimeoutMs = Number(setting('PINPIPE_UI_RUN_TIMEOUT_S', '900')) * 1000;
if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`PINPIPE_UI_DAY: expected YYYY-MM-DD, got ${day}`);
if (!Number.isFinite(runTimeoutMs) || runTimeoutMs <= 0) throw new Error('PINPIPE_UI_RUN_TIMEOUT_S: expected a number of seconds > 0');

// The params the trigger form changes, and what the run's conf must then say.
const CHANGED_PARAMS = { require_stream: false, wait_minutes: 2 } as const;
// The line daily-transform logs when it is done: winston's JSON, {"level":"info","message":
// "daily-transform finished","job":"daily-transform","date":D,...} (the log view shows its keys sorted).
const TRANSFORM_FINISHED = /^\{.*"message":"daily-transform finished".*\}$/;

function say(message: string): void {
  process.stdout.write(`airflow-ui: ${message}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The REST API with a token of the same user, for what the UI shows only as colours or not at
 * all. On two busy cores the API server can take seconds to answer: each call may take 30 s and
 * is tried 3 times.
 */
class Api {
  private token: string | undefined;

  private async call(path: string, init: RequestInit = {}): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
      } catch (error) {
        if (attempt >= 3) throw new Error(`${init.method ?? 'GET'} ${path}: ${error instanceof Error ? error.message : String(error)} (${attempt} tries)`, { cause: error });
        await sleep(2_000);
      }
    }
  }

  private async auth(): Promise<string> {
    if (this.token) return this.token;
    const res = await this.call('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: USER, password }),
    });
    if (!res.ok) throw new Error(`POST /auth/token: HTTP ${res.status} ${await res.text()}`);
    this.token = ((await res.json()) as { access_token: string }).access_token;
    return this.token;
  }

  async get<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await this.call(`/api/v2${path}`, { headers: { authorization: `Bearer ${await this.auth()}` } });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
}

interface DagRun {
  dag_run_id: string;
  logical_date: string | null;
  run_type: string;
  state: string;
  conf: Record<string, unknown> | null;
}

let page: Page;
let browser: Browser | undefined;
const api = new Api();

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${name}.png`), timeout: 15_000 });
}

/** Runs one step; on failure, a screenshot and the page's text go beside the others. */
const step = browserSteps(artifacts, say, () => page);

async function signIn(): Promise<void> {
  await page.goto(`${base}/`);
  // The UI sends a visitor without a session to the simple auth manager's login page.
  await page.waitForURL(/\/auth\/login/);
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: /sign in/i }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/auth/'));
  await page.getByRole('link', { name: /dags/i }).first().waitFor();
}

/** The DAG processor parses the DAG folder shortly after start: wait until the API knows the DAG. */
async function dagIsParsed(): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const { status, body } = await api.get<{ is_paused: boolean }>(`/dags/${DAG_ID}`);
    if (status === 200) {
      if (body.is_paused) throw new Error(`${DAG_ID} is paused: the standalone script creates DAGs unpaused`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`${DAG_ID} still unknown to the API after 180 s (HTTP ${status})`);
    await sleep(2_000);
  }
}

/** The trigger dialog (it has no accessible name of its own: its heading names the DAG). */
function triggerDialog(): Locator {
  return page.getByRole('dialog').filter({ has: page.getByRole('heading', { name: new RegExp(`^(Trigger Dag|Run Backfill) - ${DAG_ID}$`) }) });
}

/**
 * Sets one of the dialog's date fields: the field opens a date picker whose date textbox is named
 * by the field's label, beside an "HH:mm" one; a click on the dialog's heading closes it again.
 */
async function pickDateTime(dialog: Locator, label: string, date: string, time: string): Promise<void> {
  const field = dialog.getByRole('group').filter({ hasText: label }).first();
  await field.getByTestId('datetime-input').click();
  await page.getByRole('textbox', { name: label, exact: true }).fill(date.replaceAll('-', '/'));
  await page.getByRole('textbox', { name: 'HH:mm' }).fill(time);
  await dialog.getByRole('heading').first().click();
  await field.getByText(`${shownDate(date)} ${time}`).waitFor();
}

/** 2023-05-01 as the date picker shows it: May 01, 2023. */
function shownDate(date: string): string {
  return new Date(`${date}T00:00:00Z`).toLocaleDateString('en-US', { month: 'short', day: '2-digit', year: 'numeric', timeZone: 'UTC' });
}

async function openTriggerDialog(): Promise<Locator> {
  await page.goto(`${base}/dags/${DAG_ID}`);
  await page.getByRole('heading', { name: DAG_ID, exact: true }).waitFor();
  await page.getByRole('button', { name: 'Trigger Dag' }).click();
  const dialog = triggerDialog();
  await dialog.waitFor();
  return dialog;
}

/** A param of the DAG as the REST API gives it (a serialized Param: its default and JSON schema). */
interface DagParam {
  value: unknown;
  schema?: { type?: string | string[] };
}

/**
 * The trigger form shows every param of the DAG with the value it will send: each param's field,
 * found by its label and of the kind its type makes (number field, switch, text field), holds the
 * DAG's default, or the value this test set. The params come from the REST API, so a param added
 * to the DAG is checked too.
 */
async function paramsForm(dialog: Locator): Promise<void> {
  const { status, body } = await api.get<{ params: Record<string, DagParam | unknown> | null }>(`/dags/${DAG_ID}/details`);
  if (status !== 200) throw new Error(`GET /dags/${DAG_ID}/details: HTTP ${status}`);
  const params = Object.entries(body.params ?? {}).map(([name, raw]) => {
    const param = (raw !== null && typeof raw === 'object' && 'value' in raw ? raw : { value: raw }) as DagParam;
    return { name, param };
  });
  const names = params.map((p) => p.name);
  for (const name of Object.keys(CHANGED_PARAMS)) if (!names.includes(name)) throw new Error(`the DAG has no param ${name}: ${names.join(', ')}`);
  await dialog.getByText('Run Parameters', { exact: true }).waitFor();
  for (const { name, param } of params) {
    const type = [param.schema?.type ?? typeof param.value].flat()[0];
    const expected = name in CHANGED_PARAMS ? CHANGED_PARAMS[name as keyof typeof CHANGED_PARAMS] : param.value;
    if (type === 'boolean') {
      const field = dialog.getByRole('checkbox', { name, exact: true });
      await field.waitFor({ state: 'attached' });
      if ((await field.isChecked()) !== expected) throw new Error(`the switch of ${name} is ${(await field.isChecked()) ? 'on' : 'off'}, expected ${String(expected)}`);
    } else {
      // A number field is named by its label; a text field is not (it is found in its label's group).
      const field =
        type === 'integer' || type === 'number'
          ? dialog.getByRole('spinbutton', { name, exact: true })
          : dialog.getByRole('group').filter({ hasText: new RegExp(`^${name}\\b`) }).getByRole('textbox');
      await field.waitFor();
      const shown = await field.inputValue();
      if (shown !== String(expected)) throw new Error(`the field of ${name} shows ${JSON.stringify(shown)}, expected ${JSON.stringify(String(expected))}`);
    }
  }
  say(`  the form shows ${names.length} params: ${names.join(', ')}`);
}

/**
 * A screenshot of a dialog whole, without the page behind it: the viewport is made as tall as the
 * dialog for the shot (the dialog scrolls with the page otherwise), every field of the dialog must
 * then be inside it, and the viewport goes back afterwards.
 */
async function dialogShot(dialog: Locator, name: string): Promise<void> {
  const before = page.viewportSize();
  const box = await dialog.boundingBox();
  if (!box) throw new Error('the dialog has no size');
  await page.setViewportSize({ width: 1280, height: Math.min(2400, Math.ceil(box.height) + 96) });
  try {
    await dialog.getByRole('heading').first().scrollIntoViewIfNeeded();
    const height = page.viewportSize()?.height ?? 0;
    for (const field of await dialog.locator('input:not([type=hidden]), textarea, [role=checkbox], [role=switch]').all()) {
      const at = await field.boundingBox();
      if (at && (at.y < 0 || at.y + at.height > height)) throw new Error(`a field of the dialog is outside the ${height} px of the picture (at ${Math.round(at.y)} px)`);
    }
    // No focus ring or hover on a field in the picture.
    if ((await page.locator(':focus').count()) > 0) await page.locator(':focus').first().blur();
    await page.mouse.move(0, 0);
    await dialog.screenshot({ path: join(artifacts, `${name}.png`), timeout: 15_000, animations: 'disabled' });
  } finally {
    if (before) await page.setViewportSize(before);
  }
}

async function triggerDay(): Promise<void> {
  const dialog = await openTriggerDialog();
  await dialog.getByRole('heading', { name: `Trigger Dag - ${DAG_ID}` }).waitFor();
  if (!(await dialog.getByRole('radio', { name: 'Single Run' }).isChecked())) throw new Error('the trigger form does not start on "Single Run"');
  // The logical date is D 00:00 UTC (the UI's time zone here): {{ ds }} is then D.
  await pickDateTime(dialog, 'Logical Date', day, '00:00');
  const waitMinutes = dialog.getByRole('spinbutton', { name: 'wait_minutes', exact: true });
  await waitMinutes.fill(String(CHANGED_PARAMS.wait_minutes));
  // A param of type boolean is a switch; its label toggles it.
  const requireStream = dialog.getByRole('checkbox', { name: 'require_stream', exact: true });
  if (!(await requireStream.isChecked())) throw new Error('require_stream should start on (its default)');
  await dialog.getByText(/^require_stream\b/).click();
  if (await requireStream.isChecked()) throw new Error('require_stream is still on in the trigger form');
  if ((await waitMinutes.inputValue()) !== String(CHANGED_PARAMS.wait_minutes)) throw new Error('wait_minutes did not take the new value');
  await paramsForm(dialog);
  await dialogShot(dialog, 'airflow-trigger');
  await dialog.getByRole('button', { name: 'Trigger', exact: true }).click();
  await page.getByText('Dag Run Triggered').first().waitFor();
}

async function theRunOfTheDay(): Promise<DagRun> {
  const { status, body } = await api.get<{ dag_runs: DagRun[] }>(`/dags/${DAG_ID}/dagRuns?limit=100`);
  if (status !== 200) throw new Error(`GET dagRuns: HTTP ${status}`);
  const runs = body.dag_runs;
  const ours = runs.filter((r) => r.logical_date?.startsWith(day));
  if (ours.length !== 1) throw new Error(`expected one run of ${day}, found ${ours.length}: ${JSON.stringify(runs)}`);
  const [run] = ours as [DagRun];
  if (run.run_type !== 'manual') throw new Error(`the run of ${day} is of type ${run.run_type}, not manual`);
  for (const [name, value] of Object.entries(CHANGED_PARAMS)) {
    if (run.conf?.[name] !== value) throw new Error(`the run's conf has ${name}=${JSON.stringify(run.conf?.[name])}, the form set ${String(value)}`);
  }
  // Part of what this test guards: a fresh standalone Airflow starts no run by itself.
  const others = runs.filter((r) => r !== run);
  if (others.length > 0) throw new Error(`runs nobody triggered: ${others.map((r) => `${r.dag_run_id} (${r.run_type})`).join(', ')}`);
  return run;
}

/**
 * The run's state as the grid shows it: hovering the run's bar opens a tooltip with
 * "Run ID: <id> State: <state> Duration: ..." (the bar itself is only a coloured link).
 */
async function gridState(runId: string): Promise<string> {
  const bar = page.locator(`[data-run-id="${runId}"]`).getByRole('link').first();
  await bar.hover({ timeout: 10_000 });
  const tooltip = page.getByText(`Run ID: ${runId}`);
  const text = await tooltip.innerText({ timeout: 5_000 });
  await page.mouse.move(0, 0);
  return /State:\s*(\w+)/.exec(text)?.[1]?.toLowerCase() ?? 'unknown';
}

async function watchTheGrid(run: DagRun): Promise<void> {
  await page.goto(`${base}/dags/${DAG_ID}`);
  const deadline = Date.now() + runTimeoutMs;
  let last = '';
  for (;;) {
    const state = await gridState(run.dag_run_id).catch((e: unknown) => `not shown (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`);
    if (state !== last) say(`  the grid says: ${state}`);
    last = state;
    if (state === 'success') break;
    if (state === 'failed') throw new Error(`the run ${run.dag_run_id} failed (see the task logs in the UI or ${artifacts})`);
    if (Date.now() > deadline) throw new Error(`the run ${run.dag_run_id} is still ${state} after ${runTimeoutMs / 1000} s`);
    await sleep(5_000);
  }
  const { body } = await api.get<DagRun>(`/dags/${DAG_ID}/dagRuns/${encodeURIComponent(run.dag_run_id)}`);
  if (body.state !== 'success') throw new Error(`the grid says success, the API says ${body.state}`);
  await shot('airflow-dag');
  // The run's bar selects the run: the grid beside the run's details (the manual's picture, docs/images/airflow-grid.png).
  await page.locator(`[data-run-id="${run.dag_run_id}"]`).getByRole('link').first().click();
  await page.getByRole('navigation', { name: 'breadcrumb' }).getByRole('link', { name: run.dag_run_id, exact: true }).waitFor();
  await page.getByText('Success', { exact: true }).first().waitFor();
  await shot('airflow-grid');
}

async function transformLog(run: DagRun): Promise<void> {
  await page.goto(`${base}/dags/${DAG_ID}`);
  // The task's cell in the run's column of the grid opens the task instance, on its log.
  await page.locator(`[id="grid-${run.dag_run_id}-daily_transform"]`).click();
  await page.waitForURL(/\/runs\/[^/]+\/tasks\/daily_transform$/);
  await page.getByRole('heading', { name: 'daily_transform', exact: true }).waitFor();
  await page.getByRole('link', { name: 'Logs', exact: true }).click();
  // DockerOperator copies the container's output into the task log, one log line per JSON line.
  const line = page.getByText(TRANSFORM_FINISHED).first();
  await line.waitFor({ timeout: 60_000 });
  const text = (await line.innerText()).trim();
  let logged: Record<string, unknown>;
  try {
    logged = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`the log line is not one JSON object: ${text}`);
  }
  if (logged.level !== 'info' || logged.job !== 'daily-transform' || logged.date !== day) {
    throw new Error(`unexpected fields in the log line (want level info, job daily-transform, date ${day}): ${text}`);
  }
  say(`  ${text.slice(0, 160)}${text.length > 160 ? '...' : ''}`);
  await line.scrollIntoViewIfNeeded();
  // Away from the grid, whose tooltip would cover part of the picture.
  await page.getByRole('heading', { name: 'daily_transform', exact: true }).hover();
  await shot('daily-transform-log');
}

/**
 * The backfill form offers the DAG: for the range D..D its dry run counts no missing run (D's run
 * succeeded) and one run to reprocess with "All Runs". Nothing is started: the dialog is closed.
 */
async function backfillForm(): Promise<void> {
  const dialog = await openTriggerDialog();
  await dialog.getByText('Backfill', { exact: true }).click();
  await dialog.getByRole('heading', { name: `Run Backfill - ${DAG_ID}` }).waitFor();
  await pickDateTime(dialog, 'From', day, '00:00');
  await pickDateTime(dialog, 'To', day, '00:00');
  if (!(await dialog.getByRole('radio', { name: 'Missing Runs' }).isChecked())) throw new Error('the backfill form does not start on "Missing Runs"');
  await dialog.getByText('No runs matching selected criteria.').waitFor();
  await dialog.getByText('All Runs', { exact: true }).click();
  await dialog.getByText('1 run will be triggered.').waitFor();
  await dialog.getByRole('button', { name: 'Run Backfill' }).waitFor();
  await shot('backfill-form');
  await dialog.getByRole('button', { name: 'Close' }).first().click();
  await dialog.waitFor({ state: 'hidden' });
}

async function main(): Promise<void> {
  await mkdir(artifacts, { recursive: true });
  browser = await chromium.launch({ executablePath, headless: true, chromiumSandbox: false, timeout: 60_000 });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, timezoneId: 'UTC', locale: 'en-US' });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.setDefaultNavigationTimeout(60_000);
  page.on('pageerror', (error) => say(`  page error: ${error.message}`));

  let run: DagRun | undefined;
  await step('sign in', signIn);
  await step('wait for the DAG to be parsed', dagIsParsed);
  await step(`trigger ${day} from the trigger form`, triggerDay);
  await step('find the triggered run', async () => {
    run = await theRunOfTheDay();
    say(`  run ${run.dag_run_id}, conf ${JSON.stringify(run.conf)}`);
  });
  const theRun = (): DagRun => {
    if (!run) throw new Error('no run');
    return run;
  };
  await step('watch the run reach success in the grid', () => watchTheGrid(theRun()));
  await step("find the job's JSON log lines in daily_transform's log", () => transformLog(theRun()));
  await step('open the backfill form', backfillForm);
  await step('no other run was started', async () => {
    await theRunOfTheDay();
  });
}

// Stopped from outside (the wrapper's cleanup, Ctrl-C): close the browser and go.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: closing the browser`);
    void (browser?.close() ?? Promise.resolve()).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

const t0 = Date.now();
try {
  await main();
  say(`passed in ${((Date.now() - t0) / 1000).toFixed(0)} s; screenshots in ${artifacts}`);
} catch (error) {
  process.stderr.write(`airflow-ui: FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => undefined);
}
