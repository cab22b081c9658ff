"""Operators that DAG files import (EmptyOperator, PythonOperator, BashOperator, ...)."""
