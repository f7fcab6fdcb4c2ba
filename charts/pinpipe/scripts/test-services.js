// The `helm test` check (templates/tests/test-services.yaml runs it with `node -e`): every URL of
// PINPIPE_TEST_TARGETS, a JSON list of {name, url}, must answer 200 within
// PINPIPE_TEST_TIMEOUT_SECONDS; each is asked again every 2 s until then. Exit 0 only when all did.
const targets = JSON.parse(process.env.PINPIPE_TEST_TARGETS || '[]');
const timeoutSeconds = Number(process.env.PINPIPE_TEST_TIMEOUT_SECONDS || '60');
const deadline = Date.now() + timeoutSeconds * 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// What went wrong, in the words that tell DNS, kube-proxy and the job apart (ENOTFOUND, ECONNREFUSED, ...).
function reason(error) {
  if (error && error.name === 'TimeoutError') return 'no answer within the request timeout';
  const cause = error && error.cause;
  return (cause && (cause.code || cause.message)) || (error && error.message) || String(error);
}

async function check({ name, url }) {
  let last = 'never asked';
  for (let attempt = 1; ; attempt += 1) {
    const left = deadline - Date.now();
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(1000, Math.min(5000, left))) });
      const body = (await response.text()).replace(/\s+/g, ' ').slice(0, 200);
      if (response.status === 200) {
        console.log(`ok ${name}: GET ${url} answered 200 ${body}`);
        return true;
      }
      last = `HTTP ${response.status} ${body}`;
    } catch (error) {
      last = reason(error);
    }
    if (deadline - Date.now() <= 2000) {
      console.error(`FAIL ${name}: GET ${url} did not answer 200 within ${timeoutSeconds} s (${attempt} attempt(s)); last: ${last}`);
      return false;
    }
    await sleep(2000);
  }
}

if (targets.length === 0) {
  console.error('FAIL nothing to check: PINPIPE_TEST_TARGETS is empty');
  process.exit(2);
}
Promise.all(targets.map(check)).then(
  (results) => {
    const failed = results.filter((ok) => !ok).length;
    if (failed > 0) console.error(`${failed} of ${results.length} check(s) failed`);
    process.exit(failed > 0 ? 1 : 0);
  },
  (error) => {
    console.error(`FAIL ${(error && error.stack) || error}`);
    process.exit(2);
  },
);
