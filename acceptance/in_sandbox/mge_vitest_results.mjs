// A Vitest reporter that acceptance/runner.py loads inside the sandbox.
//
// It streams JSON lines to the file descriptor named by MGE_RESULTS_FD as things happen:
// each file's collected tests, then each test's outcome when it ends, then that the run
// finished. The built-in JSON reporter writes once, when the run ends, so a run killed at
// its wall-clock limit would leave nothing; these lines are already written. It also keeps
// the real error message: the JSON reporter reports a timeout under the stack of the error
// created when the test was declared ("STACK_TRACE_ERROR"), not "Test timed out in 10000ms".
import { writeSync } from "node:fs";
import { relative } from "node:path";

const resultsFd = Number(process.env.MGE_RESULTS_FD);
const TIMED_OUT = /^(Test|Hook) timed out in/;
const STATUSES = { passed: "passed", failed: "failed", skipped: "skipped" };

function emit(event) {
  writeSync(resultsFd, JSON.stringify(event) + "\n");
}

function headline(error) {
  return error.name && error.name !== "Error" ? `${error.name}: ${error.message}` : error.message;
}

function trace(errors) {
  return errors.map((error) => `${error.stack || headline(error)}\n${error.diff || ""}`).join("\n");
}

export default class MgeResults {
  onInit(vitest) {
    this.root = vitest.config.root;
  }

  file(testModule) {
    return relative(this.root, testModule.moduleId);
  }

  onTestModuleCollected(testModule) {
    const file = this.file(testModule);
    for (const testCase of testModule.children.allTests()) {
      emit({ event: "collected", id: testCase.id, name: testCase.fullName, file });
    }
  }

  onTestCaseResult(testCase) {
    const result = testCase.result();
    const errors = result.errors || [];
    let status = STATUSES[result.state] || "error"; // "pending": it never finished
    if (status === "failed" && errors.some((error) => TIMED_OUT.test(error.message || ""))) {
      status = "timeout";
    }
    // A skipped test says why when it can: ctx.skip("note"), else it.skip or it.todo.
    const skipReason = status === "skipped" ? result.note || testCase.options.mode : "";
    emit({
      event: "case",
      id: testCase.id,
      name: testCase.fullName,
      file: this.file(testCase.module),
      status,
      duration: (testCase.diagnostic()?.duration || 0) / 1000,
      message: errors.length ? headline(errors[0]) : skipReason,
      trace: trace(errors),
    });
  }

  onTestRunEnd(testModules, unhandledErrors) {
    // A file that failed to load (a syntax error, a missing import) reaches no other hook.
    for (const testModule of testModules) {
      const errors = testModule.errors();
      if (errors.length) {
        const file = this.file(testModule);
        emit({ event: "file_error", file, message: headline(errors[0]), trace: trace(errors) });
      }
    }
    for (const error of unhandledErrors) {
      emit({ event: "run_error", message: headline(error), trace: trace([error]) });
    }
    emit({ event: "finished" });
  }
}
