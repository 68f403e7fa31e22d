"""Scale-out: long jobs split by sample index into shards that run in this process or on a Ray cluster, written to
disk as they finish so a killed job resumes, and merged into exactly what the single-process run returns.

The jobs themselves live with the library code they run (`ganlens.scoring.score`, `ganlens.directions.fit_boundaries`,
`ganlens.invert.runner.invert_images`, `ganlens.analysis.measure_edits`), each taking an `executor` argument; this
package holds only the machinery, and imports nothing above `io` (Ray only when a Ray executor connects).
"""

from .executors import Executor, InProcessExecutor, RayExecutor, resolve_executor
from .shards import Shard, ShardStore, default_shard_size, digest, plan_shards

__all__ = ["Executor", "InProcessExecutor", "RayExecutor", "Shard", "ShardStore", "default_shard_size", "digest", "plan_shards",
           "resolve_executor"]
