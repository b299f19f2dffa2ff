"""The cost estimate: what a planned run will cost before it starts.

`model` counts each unit's operations and prices them with per-operation rates; `measure`
times those rates on this machine; `text` words an estimate; `report` is `evalsuite plan`'s
view of the plan, its cache status and (with `--estimate`) its cost.
"""
