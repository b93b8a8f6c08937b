"""Main module of ``spawn`` worker processes started under ``python -m espnet_warmup``.

``multiprocessing`` re-imports the parent's ``__main__`` in each spawned worker by its module
name, but skips names ending in ``.__main__``. The launcher therefore points its own
``__spec__`` here, so every worker (e.g. ESPnet's DDP workers from
``torch.multiprocessing.spawn``) imports this module first and registers our schedulers and
transducer model before it builds them from ESPnet's registries (lazily, as in the parent: right
after the worker first imports ``espnet2.tasks.abs_task`` and ``espnet2.tasks.asr``). A Gloo process group the worker leaves behind
is destroyed at its exit (:mod:`espnet_warmup.process_group_exit`), as in the parent.
"""

from espnet_warmup import lazy_registration, process_group_exit

lazy_registration.install(on_error="raise")
process_group_exit.install()
