import json
import textwrap
from tests.conftest import Cli

DAG = '''
from datetime import timedelta
import pendulum
from flowctl import DAG
from flowctl.operators import BashOperator

with DAG("chain", schedule=None, start_date=pendulum.datetime(2024, 1, 1)):
    a = BashOperator(task_id="a", bash_command="echo hello-a")
    b = BashOperator(task_id="b", bash_command="echo got-{{ ti.xcom_pull(task_ids='a') }}")
    c = BashOperator(task_id="c", bash_command="echo done")
    a >> b >> c
'''

def test_x(cli_db: Cli, home, capfd):
    (home / "dags").mkdir()
    (home / "dags" / "chain.py").write_text(DAG)
    r = cli_db("dags", "test", "chain", "2024-01-01")
    out, err = capfd.readouterr()
    print("RESULT", r)
    print("FD OUT", repr(out))
    print("FD ERR", repr(err))
    r = cli_db("dags", "list-runs", "chain", "-o", "json")
    print(r)
    rid = json.loads(r.stdout)[0]["run_id"]
    print(cli_db("tasks", "states-for-dag-run", "chain", rid, "-o", "json"))
    print(cli_db("tasks", "logs", "chain", "b", rid))
    import subprocess; print(subprocess.run(["find", str(home / "logs")], capture_output=True, text=True).stdout)
