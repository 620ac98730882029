"""The builder DSL: write workflows as Python functions.

```python
from wfc.dsl import Workflow, WorkflowThread

def checkout(wf: WorkflowThread) -> None:
    order_id = wf.declare_str("order-id").required()
    charge = wf.execute("charge-card", order_id, retries=3)
    charge.compensate_with("refund-card", charge["payment_id"])

checkout_wf = Workflow("checkout", checkout)
```
"""

from wfc.dsl.errors import DslError
from wfc.dsl.expressions import ExpressionError, parse_expression, parse_json_path
from wfc.dsl.flow import IfChain
from wfc.dsl.forms import Field, UserTaskForm
from wfc.dsl.handles import Expression, NodeOutput, SpawnedThread, VariableHandle
from wfc.dsl.thread import WorkflowThread
from wfc.dsl.threads import ThreadStrategy
from wfc.dsl.user_tasks import UserTaskOutput
from wfc.dsl.workflow import ENTRYPOINT_THREAD, Workflow
from wfc.specs import Backoff, WfcError

__all__ = [
    "ENTRYPOINT_THREAD",
    "Backoff",
    "DslError",
    "Expression",
    "ExpressionError",
    "Field",
    "IfChain",
    "NodeOutput",
    "SpawnedThread",
    "ThreadStrategy",
    "UserTaskForm",
    "UserTaskOutput",
    "VariableHandle",
    "WfcError",
    "Workflow",
    "WorkflowThread",
    "parse_expression",
    "parse_json_path",
]
