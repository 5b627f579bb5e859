"""The controller manager: one thread that runs every controller whenever the store changes,
and every `step` seconds a tick on which rollouts advance one step and terminating namespaces
are finished. Each controller's sync_all(tick) runs under the store lock, so a controller sees
and writes a consistent store.
"""

import threading
import time

from controller import DeploymentController
from workloads import DaemonSetController, ReplicaCountController, StatefulSetController


class ControllerManager:
    def __init__(self, store, step):
        self.store = store
        self.step = step
        self.controllers = [DeploymentController(store), StatefulSetController(store),
                            DaemonSetController(store), ReplicaCountController(store)]
        self._stop = False
        self.thread = threading.Thread(target=self._loop, name="controller-manager",
                                       daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        with self.store.cond:
            self._stop = True
            self.store.cond.notify_all()

    def _loop(self):
        next_tick = time.monotonic() + self.step
        seen_rv = -1
        while True:
            with self.store.cond:
                while not self._stop and self.store.rv == seen_rv and \
                        time.monotonic() < next_tick:
                    self.store.cond.wait(max(0.0, next_tick - time.monotonic()))
                if self._stop:
                    return
                tick = time.monotonic() >= next_tick
                if tick:
                    next_tick = time.monotonic() + self.step
                    self.store.finish_namespaces(grace=max(1.0, 3 * self.step))
                for controller in self.controllers:
                    controller.sync_all(tick)
                seen_rv = self.store.rv
