"""Where eval writes pictures: any folder but the run's own (eval never writes runs)."""
import pathlib


def outside_run(output: str | pathlib.Path, workdir: str | pathlib.Path) -> pathlib.Path:
  """`output`, resolved; refused when it is the run folder or inside it."""
  output = pathlib.Path(output).resolve()
  workdir = pathlib.Path(workdir).resolve()
  if output == workdir or workdir in output.parents:
    raise ValueError(f"--output {output} is inside the run folder {workdir}; eval never "
                     "writes runs: choose another folder")
  return output
