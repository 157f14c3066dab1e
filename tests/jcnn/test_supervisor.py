"""Reading JAX's native log when a process group loses a member (jcnn.supervisor).

The logs below are what jaxlib 0.10 printed here (2 processes on localhost, gloo) when
process 1, then process 0, was SIGKILLed; tests/train/test_multihost.py does it live.
"""
from jcnn import supervisor

# Process 0 (the coordinator) after process 1 died.
_PEER_DIED = """\
E1207 06:33:33.612827   29289 coordination_service.cc:1549] [11082781552831243189] Use error \
polling to propagate the following error to all tasks: UNAVAILABLE: The following tasks are \
unhealthy (stopped sending heartbeats):
1
The tasks have crashed. Check the task logs for an earlier error, or scheduler events (e.g. \
preemption, eviction) to debug further. [type.googleapis.com/tensorflow.CoordinationServiceError='']
F1207 06:33:33.613701   29300 client.h:80] Terminating process because the JAX distributed \
service detected fatal errors. This most likely indicates that another task died; see the \
other task logs for more details.
*** Check failure stack trace: ***
"""
# Process 1 after the coordinator died.
_COORDINATOR_DIED = """\
E1207 06:32:14.574722   28516 coordination_service_agent.cc:289] Polled an error from \
coordination service (this can be an error from this or another task).
F1207 06:32:14.574732   28516 client.h:80] Terminating process because the JAX distributed \
service detected fatal errors. This most likely indicates that another task died.
:UNKNOWN:Error received from peer  {grpc_message:"recvmsg:Connection reset by peer", \
grpc_status:14}
"""


def test_the_lost_process_is_read_from_the_coordination_services_report():
  assert supervisor.lost_processes(_PEER_DIED) == [1]
  assert supervisor.lost_processes(
      "Barrier failed because: task is set to ERROR: UNAVAILABLE: Task 3 heartbeat timeout."
      "\n...tasks are unhealthy (stopped sending heartbeats):\n2\n5\nThe tasks") == [2, 3, 5]
  assert supervisor.describe_loss(_PEER_DIED, 0).startswith("lost process 1 of the group")


def test_a_lost_coordinator_is_named_by_the_others():
  assert supervisor.lost_processes(_COORDINATOR_DIED) == []
  assert supervisor.describe_loss(_COORDINATOR_DIED, 1) == (
      "lost process 0 of the group, the coordinator (its connection closed)")


def test_the_resume_hint_names_the_newest_finished_checkpoint(tmp_path):
  assert "no checkpoint was saved yet" in supervisor.resume_hint(tmp_path)
  for name in ("10", "20", "30.orbax-checkpoint-tmp-1765000000"):
    (tmp_path / "checkpoints" / name).mkdir(parents=True)
  assert supervisor.resume_hint(tmp_path).startswith(
      f"the last good checkpoint is step 20 in {tmp_path / 'checkpoints'}")
