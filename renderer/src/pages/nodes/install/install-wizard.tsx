import type { InstallNode } from '@common/api/index.js';
import { Button, Group, Stepper } from '@mantine/core';
import { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { useInstallNodeMutation } from '../../../api/nodes.queries.js';
import { useTaskQuery } from '../../../api/tasks.queries.js';
import { InstallProgress } from './install-progress.js';
import type { LocalFormValues, SshFormValues } from './install-request.js';
import { LocalInstallForm } from './local-install-form.js';
import { SshInstallForm } from './ssh-install-form.js';
import { TargetChoice, type InstallTarget } from './target-choice.js';

const STEP = { choose: 0, settings: 1, install: 2 } as const;

/** ?task=…&node=… while an install runs, so a reload (or a shared link) returns to its live view. */
function runningInstall(params: URLSearchParams): { taskId: number; nodeId: number } | null {
  const taskId = Number(params.get('task'));
  const nodeId = Number(params.get('node'));
  return Number.isInteger(taskId) && taskId > 0 && Number.isInteger(nodeId) && nodeId > 0 ? { taskId, nodeId } : null;
}

/** Choose where → settings (and for SSH, confirm the host key) → watch the install task. */
export function InstallWizard() {
  const [params, setParams] = useSearchParams();
  const running = runningInstall(params);
  const [target, setTarget] = useState<InstallTarget | null>(null);
  const [step, setStep] = useState<number>(running === null ? STEP.choose : STEP.install);
  const [sshValues, setSshValues] = useState<SshFormValues | null>(null);
  const [localValues, setLocalValues] = useState<LocalFormValues | null>(null);
  const install = useInstallNodeMutation();
  // Once the node is online every step is done; the stepper shows all three ticked.
  const installTask = useTaskQuery(running?.taskId ?? 0, running !== null);
  const succeeded = installTask.data?.state === 'FINISHED' || installTask.data?.state === 'FINISHED_WITH_WARNINGS';

  const start = (request: InstallNode, remember: () => void) => {
    remember();
    install.mutate(request, {
      onSuccess: ({ node, taskId }) => {
        setParams({ task: String(taskId), node: String(node.id) }, { replace: true });
        setStep(STEP.install);
      },
    });
  };
  const retry = () => {
    install.reset();
    setParams({}, { replace: true });
    setStep(target === null ? STEP.choose : STEP.settings);
  };
  const progress = running !== null && <InstallProgress taskId={running.taskId} nodeId={running.nodeId} onRetry={retry} />;
  const back = () => {
    install.reset();
    setStep(STEP.choose);
  };

  return (
    <Stepper active={succeeded ? STEP.install + 1 : step} onStepClick={(next) => step !== STEP.install && next < step && setStep(next)} allowNextStepsSelect={false}>
      <Stepper.Step label="Where" description="This computer or SSH">
        <TargetChoice value={target} onChange={setTarget} />
        <Group justify="flex-end" mt="lg">
          <Button disabled={target === null} onClick={() => setStep(STEP.settings)}>
            Next
          </Button>
        </Group>
      </Stepper.Step>
      <Stepper.Step label="Settings" description={target === 'ssh' ? 'Connection and host key' : 'Node name'}>
        {target === 'ssh' ? (
          <SshInstallForm
            initialValues={sshValues}
            installing={install.isPending}
            installError={install.error}
            onInstall={(request, values) => start(request, () => setSshValues(values))}
            onBack={back}
          />
        ) : (
          <LocalInstallForm
            initialValues={localValues}
            installing={install.isPending}
            installError={install.error}
            onInstall={(request, values) => start(request, () => setLocalValues(values))}
            onBack={back}
          />
        )}
      </Stepper.Step>
      <Stepper.Step label="Install" description="Live progress and log">
        {progress}
      </Stepper.Step>
      <Stepper.Completed>{progress}</Stepper.Completed>
    </Stepper>
  );
}
