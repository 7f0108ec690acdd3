/** Terminal states keep the delivery method of the last attempt (the operator's view shows it). */
import { next, type JobInput, type JobState } from '../../../src/fota/update/machine';
import { cancelling, ctx, delivering, verifying } from './fixtures';

test.each<[string, JobState, JobInput, string, 'pull' | 'push']>([
  ['a pull that fails with Update Result 5', delivering({ method: 'pull', started: true }), { type: 'resultObserved', result: 5 }, 'failed', 'pull'],
  ['a push whose cancel the device confirms', cancelling({ method: 'push' }), { type: 'cancelAnswered', code: '2.04' }, 'cancelled', 'push'],
  ['a verified success after a push', verifying({ method: 'push', version: '2.0.0' }), { type: 'resultObserved', result: 1 }, 'succeeded', 'push'],
])('%s ends with its method', (_name, state, input, value, method) => {
  const step = next(state, input, ctx());
  expect(step.state.value).toBe(value);
  expect((step.state as { method?: string }).method).toBe(method);
});
