#!/usr/bin/python3
"""runbook serve in a real browser (docs/serve.md).

Starts `runbook serve` on a free loopback port over a fresh audit database, then drives a
headless Chromium through chromedriver (Debian's python3-selenium) the way an approver would:
log in (a wrong password first), find the pending plan, approve it and see its role rule met,
then watch a run that fails and rolls back live on its page, without a reload, until the link
to its post-mortem report appears, and open the report. Every page is screenshotted.

  /usr/bin/python3 tests/serve_browser_test.py --runbook build/runbook \\
      [--screenshots build/artifacts/serve] [--docs-dir docs/serve]

Exits 0 when every check passes, 1 with the failed checks otherwise (a check the scenario
can go on after does not stop it: all are listed at the end). It cleans up the server, the
background run, the browser and its temporary directory whatever happens.
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "password123"
WATCHDOG_SECONDS = 150  # ctest gives 180

TEAM_YAML = "pm: [paula]\n"

# Step two fails after a few seconds, so that the run page is open while the run goes and
# then sees it roll back step one.
RUNBOOK_YAML = """\
runbook: web-release
environment: production
approval:
  required: 1
  team: team.yaml
  rules:
    - role: pm
      required: 1
      when: {environment: production}
steps:
  - id: one
    shell: {command: "sleep 1; echo hi"}
    rollback: {shell: {command: "echo undo"}}
  - id: two
    shell: {command: "sleep 4; exit 3"}
"""

# What each page of docs/serve.md shows: --docs-dir gets these copies.
DOCS_SHOTS = {
    "login": "login.png",
    "overview": "overview.png",
    "plans": "plans.png",
    "plan-approved": "plan.png",
    "run-finished": "run.png",
    "report": "report.png",
    "stats": "stats.png",
}


class CheckFailed(Exception):
    pass


def ok(what):
    print("ok:", what, flush=True)


def check(cond, what, detail=""):
    if not cond:
        raise CheckFailed(what + (": " + detail if detail else ""))
    ok(what)


class Watchdog(Exception):
    pass


def on_alarm(signum, frame):
    raise Watchdog("the test took longer than %d s" % WATCHDOG_SECONDS)


class ServeBrowserTest:
    def __init__(self, args):
        self.args = args
        self.runbook = os.path.abspath(args.runbook)
        self.tmp = tempfile.mkdtemp(prefix="runbook-serve-browser-")
        self.db = os.path.join(self.tmp, "audit.db")
        self.users = os.path.join(self.tmp, "users")
        self.env = dict(os.environ)
        # Our own HOME: no settings file of whoever runs the test applies.
        self.env["HOME"] = os.path.join(self.tmp, "home")
        os.makedirs(self.env["HOME"])
        self.env["RUNBOOK_AUDIT_DB"] = self.db
        self.env.pop("RUNBOOK_SETTINGS", None)
        self.server = None
        self.server_err = os.path.join(self.tmp, "serve.stderr")
        self.run_proc = None
        self.run_out = os.path.join(self.tmp, "run.out")
        self.driver = None
        self.base = None
        self.shots = {}
        self.failures = []  # checks that failed without stopping the scenario
        self.console_backlog = []  # console errors read early, judged at the end
        os.makedirs(args.screenshots, exist_ok=True)

    def expect(self, cond, what, detail=""):
        """A check the scenario can go on after: all of them are reported at the end."""
        if cond:
            return ok(what)
        message = what + (": " + detail if detail else "")
        print("FAIL:", message, flush=True)
        self.failures.append(message)

    # --- the command line ---------------------------------------------------------------

    def cli(self, *argv):
        p = subprocess.run([self.runbook, *argv, "--audit-db", self.db], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, env=self.env, cwd=self.tmp, timeout=30)
        if p.returncode != 0:
            raise CheckFailed("`runbook %s` exited %d:\n%s%s" %
                              (" ".join(argv), p.returncode, p.stdout, p.stderr))
        return p.stdout

    def prepare(self):
        with open(os.path.join(self.tmp, "team.yaml"), "w") as f:
            f.write(TEAM_YAML)
        self.rb = os.path.join(self.tmp, "rb.yaml")
        with open(self.rb, "w") as f:
            f.write(RUNBOOK_YAML)
        p = subprocess.run([self.runbook, "serve", "passwd", "paula", "--users", self.users],
                           input=PASSWORD + "\n", capture_output=True, text=True, env=self.env,
                           cwd=self.tmp, timeout=30)
        check(p.returncode == 0, "`runbook serve passwd paula` makes an account",
              p.stdout + p.stderr)
        self.cli("plan", self.rb, "--as", "alice")
        plans = json.loads(self.cli("plans", "--json"))
        check(len(plans) == 1 and plans[0].get("plan_id"), "`runbook plan` made one plan",
              repr(plans))
        self.plan_id = plans[0]["plan_id"]
        print("plan:", self.plan_id, flush=True)

    def start_server(self):
        err = open(self.server_err, "w")
        self.server = subprocess.Popen(
            [self.runbook, "serve", "--users", self.users, "--listen", "127.0.0.1:0",
             "--audit-db", self.db, "--stats-max-age", "4"],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=self.env,
            cwd=self.tmp)
        err.close()
        deadline = time.monotonic() + 20
        out = b""
        while time.monotonic() < deadline:
            m = re.search(rb"listening on (http://127\.0\.0\.1:(\d+)/)", out)
            if m:
                self.base = m.group(1).decode().rstrip("/")
                ok("`runbook serve` listens on " + self.base)
                return
            if self.server.poll() is not None:
                break
            ready, _, _ = select.select([self.server.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(self.server.stdout.fileno(), 4096)
                if not chunk and self.server.poll() is not None:
                    break
                out += chunk
        raise CheckFailed("`runbook serve` did not say where it listens (exit %s): %s\n%s" %
                          (self.server.poll(), out.decode(errors="replace"),
                           open(self.server_err).read()))

    # --- the browser --------------------------------------------------------------------

    def start_browser(self):
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--window-size=1280,1000", "--no-first-run", "--disable-extensions",
                  "--user-data-dir=" + os.path.join(self.tmp, "chromium")):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(CHROMEDRIVER, log_path=os.path.join(self.tmp, "chromedriver.log"))
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_page_load_timeout(30)
        # --window-size is the outer window: make the page itself 1280x1000, as screenshotted.
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        self.wait = WebDriverWait(self.driver, 10)
        ok("headless Chromium started")

    def get(self, path):
        self.driver.get(self.base + path)

    def path(self):
        url = self.driver.current_url
        return url[len(self.base):] if url.startswith(self.base) else url

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        return self.find(css).text.strip()

    def shot(self, name):
        path = os.path.join(self.args.screenshots, name + ".png")
        check(self.driver.save_screenshot(path), "screenshot " + path)
        self.shots[name] = path

    def report_csp_errors(self):
        errors = self.console_errors() or []
        csp = [e for e in errors if "Content Security Policy" in e["message"]]
        self.console_backlog.extend(e for e in errors if e not in csp)
        return csp

    def console_errors(self):
        try:
            entries = self.driver.get_log("browser")
        except WebDriverException:
            return None
        for e in entries:
            print("browser console: %s %s" % (e.get("level"), e.get("message")), flush=True)
        return [e for e in entries if e.get("level") == "SEVERE"]

    # --- the scenario -------------------------------------------------------------------

    def submit_login(self):
        # The form's hidden csrf must still be the rb_login cookie when it is sent; any request
        # the browser made meanwhile that got a login form (a redirect to /login) replaced it.
        form_token = self.find('input[name="csrf"]').get_attribute("value")
        cookie = self.driver.get_cookie("rb_login")
        check(cookie is not None and cookie.get("value") == form_token,
              "the login form's csrf is still the rb_login cookie",
              "the browser holds another rb_login cookie: a later request (such as the "
              "browser's own GET /favicon.ico) got a fresh login form and cookie, so POST "
              "/login would answer 403 'the login form expired'")
        self.find("#login").click()

    def login(self):
        self.get("/plans")
        self.wait.until(EC.presence_of_element_located((By.ID, "login")))
        check(self.path().startswith("/login"), "a page without a session goes to /login",
              self.path())
        self.shot("login")
        self.find("#name").send_keys("paula")
        self.find("#password").send_keys("wrong-password")
        self.submit_login()
        self.wait.until(EC.presence_of_element_located((By.ID, "error")))
        check(self.text("#error") == "wrong name or password",
              "a wrong password shows #error: " + self.text("#error"))
        check(not self.finds("#user"), "... and logs nobody in")
        # The refused POST is the one error the console may show (its 401); drain it.
        severe = self.console_errors() or []
        unexpected = [e for e in severe
                      if not re.search(r"/login - .* status of 401", e["message"])]
        self.expect(not unexpected, "the wrong password's 401 is the only console error",
                    "; ".join(e["message"] for e in unexpected))
        self.shot("login-error")
        self.find("#name").clear()
        self.find("#name").send_keys("paula")
        self.find("#password").clear()
        self.find("#password").send_keys(PASSWORD)
        self.submit_login()
        self.wait.until(EC.any_of(EC.presence_of_element_located((By.ID, "user")),
                                  EC.presence_of_element_located((By.ID, "error"))))
        if self.finds("#error"):
            raise CheckFailed("the right password was refused: " + self.text("#error"))
        check(self.text("#user") == "paula", "logged in: the header names paula",
              self.text("#user"))

    def overview_and_plans(self):
        self.get("/")
        self.wait.until(EC.presence_of_element_located((By.ID, "user")))
        check(self.path() == "/", "the overview opens at /", self.path())
        links = [a.text for a in self.finds("table#plans a")]
        check(self.plan_id in links, "the overview lists the pending plan", repr(links))
        self.shot("overview")
        self.driver.find_element(By.LINK_TEXT, "Plans").click()
        try:
            self.wait.until(lambda d: self.path() == "/plans")
        except TimeoutException:
            raise CheckFailed("the Plans link did not open /plans: " + self.path())
        ok("the Plans link opens /plans")
        self.wait.until(EC.presence_of_element_located((By.ID, "plans")))
        row = self.find("table#plans tbody tr")
        check("pending" in row.text, "/plans shows the plan pending", row.text)
        self.shot("plans")
        self.driver.find_element(By.LINK_TEXT, self.plan_id).click()
        self.wait.until(EC.presence_of_element_located((By.ID, "plan-status")))
        check(self.path() == "/plans/" + self.plan_id, "its link opens /plans/" + self.plan_id,
              self.path())

    def approve(self):
        check(self.text("#plan-status span") == "pending", "the plan is pending",
              self.text("#plan-status"))
        check(self.text("#approvals").startswith("0 of 1"),
              "#approvals: " + self.text("#approvals"))
        rules = self.finds("ul#rules > li.rule")
        check(len(rules) == 1 and rules[0].get_attribute("data-met") == "false",
              "the pm rule is not met yet", repr([r.text for r in rules]))
        change_request = self.text("#change-request")
        check("web-release" in change_request and "two" in change_request,
              "#change-request shows the runbook and its steps", change_request)
        check(not self.finds("#flash") and not self.finds("#error"), "no flash before acting")
        self.shot("plan-pending")
        self.find("#approve-comment").send_keys("Looks good; ship it.")
        self.find("#approve").click()
        self.wait.until(EC.presence_of_element_located((By.ID, "flash")))
        check(self.text("#flash") == "You approved this plan.", "#flash: " + self.text("#flash"))
        check(not self.finds("#error"), "no #error after approving")
        check(self.path().startswith("/plans/" + self.plan_id), "back on the plan page",
              self.path())
        check(self.text("#plan-status span") == "approved", "the plan is approved",
              self.text("#plan-status"))
        check(self.text("#approvals").startswith("1 of 1"),
              "#approvals: " + self.text("#approvals"))
        check(len(self.finds('ul#rules > li.rule[data-met="true"]')) == 1, "the pm rule is met",
              repr([r.text for r in self.finds("ul#rules > li.rule")]))
        decisions = self.find("#decisions").text
        check("paula" in decisions and "Looks good; ship it." in decisions,
              "#decisions shows paula's approval and her comment", decisions)
        self.shot("plan-approved")
        plan = json.loads(self.cli("plans", "--json"))[0]
        check(plan.get("status") == "approved" and plan.get("approved_by") == ["paula"],
              "`runbook plans --json` agrees: approved by paula",
              repr({k: plan.get(k) for k in ("status", "approved_by")}))

    def watch_run(self):
        # The run goes in the background; its page is opened while it goes.
        out = open(self.run_out, "w")
        self.run_proc = subprocess.Popen(
            [self.runbook, "run", self.rb, "--plan", self.plan_id, "--audit-db", self.db],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
            cwd=self.tmp)
        out.close()
        deadline = time.monotonic() + 10
        self.run_id = None
        while self.run_id is None and time.monotonic() < deadline:
            # `runbook runs` lists the server's records of logins and approvals too.
            runs = [r for r in json.loads(self.cli("runs", "--json"))
                    if r.get("runbook") == "web-release"]
            if runs:
                self.run_id = runs[0]["run_id"]
            elif self.run_proc.poll() is not None:
                break
            else:
                time.sleep(0.1)
        check(self.run_id is not None, "`runbook run` recorded its run",
              open(self.run_out).read())
        print("run:", self.run_id, flush=True)
        self.get("/runs/" + self.run_id)
        self.wait.until(EC.presence_of_element_located((By.ID, "run-state")))
        state = self.text("#run-state")
        check(state == "running", "the run page opened while the run goes says running", state)
        check(not self.find("#report-link").is_displayed(), "no report link while it runs")
        check(self.find("#run-id").text == self.run_id, "#run-id is the run")
        events_before = int(self.text("#event-count"))
        # A marker that a reload would lose: the page must update itself.
        self.driver.execute_script("window.__runbookNoReload = 'still here';")
        self.shot("run-running")
        try:
            WebDriverWait(self.driver, 30, poll_frequency=0.25).until(
                lambda d: d.find_element(By.ID, "run-state").text.strip() == "rolled_back"
                and d.find_element(By.ID, "report-link").is_displayed())
        except TimeoutException:
            raise CheckFailed("within 30 s the run page did not show rolled_back and the report "
                              "link (it shows %r)" % self.text("#run-state"))
        ok("without a reload #run-state became rolled_back and #report-link appeared")
        check(self.driver.execute_script("return window.__runbookNoReload;") == "still here",
              "the page was not reloaded (live.js updated it)")
        self.run_proc.wait(timeout=30)
        check(self.run_proc.returncode == 1, "`runbook run` exited 1 (rolled back)",
              "exit %s: %s" % (self.run_proc.returncode, open(self.run_out).read()))
        events_after = int(self.text("#event-count"))
        check(events_after > events_before,
              "#event-count grew live: %d -> %d" % (events_before, events_after))
        check(self.text("#finished-at") != "",
              "#finished-at filled in: " + self.text("#finished-at"))
        check(len(self.finds("#timeline svg")) == 1, "#timeline holds an svg")
        steps = self.text("#steps-body")
        check("two" in steps and "one" in steps, "#steps-body lists both steps", steps)
        check(re.search(r"rollback", steps, re.I) is not None,
              "#steps-body shows the rollback of step one", steps)
        # A runbook of local shell steps has no hosts: the table stays, empty.
        check(len(self.finds("tbody#hosts-body")) == 1, "the page keeps tbody#hosts-body")
        self.shot("run-finished")

    def report(self):
        link = self.find("#report-link a")
        check(link.get_attribute("href").endswith("/runs/%s/report" % self.run_id),
              "the report link points at /runs/ID/report", link.get_attribute("href"))
        link.click()
        self.wait.until(lambda d: self.path().startswith("/runs/%s/report" % self.run_id))
        self.wait.until(EC.presence_of_element_located((By.TAG_NAME, "svg")))
        body = self.find("body").text
        check(self.run_id in body, "the report names the run")
        check(len(self.finds("svg")) >= 1, "the report has an svg timeline")
        check("rolled_back" in body or "rolled back" in body.lower(), "the report says rolled back")
        font = self.driver.execute_script("return getComputedStyle(document.body).fontFamily;")
        self.shot("report")
        self.expect(not self.report_csp_errors(), "the report's inline stylesheet applies",
                    "the browser blocked it (the page is in %s): the response has two "
                    "Content-Security-Policy headers, the server's default (style-src 'self') "
                    "and the report's own (style-src 'unsafe-inline'), and a browser enforces "
                    "both" % font)

    def runs_and_stats(self):
        self.get("/runs")
        self.wait.until(EC.presence_of_element_located((By.ID, "runs")))
        row = self.find("table#runs tbody tr")
        check(self.run_id in row.text and "rolled_back" in row.text,
              "/runs lists the run, rolled_back", row.text)
        self.shot("runs")
        # live.js rewrites the list from /runs?limit=N (JSON) every 2 s: the rewritten row must
        # say what the server's HTML said.
        before = [td.text.strip() for td in self.finds("table#runs tbody tr:first-child td")]
        self.driver.execute_script(
            "document.querySelector('table#runs tbody tr').setAttribute('data-served', '1');")
        try:
            WebDriverWait(self.driver, 10, poll_frequency=0.25).until(
                lambda d: not d.find_elements(By.CSS_SELECTOR, "table#runs tbody tr[data-served]"))
        except TimeoutException:
            raise CheckFailed("live.js did not refresh /runs within 10 s")
        ok("live.js refreshed the /runs list")
        after = [td.text.strip() for td in self.finds("table#runs tbody tr:first-child td")]
        self.expect(after == before, "the refreshed /runs row matches the server's",
                    "served %r, refreshed %r" % (before, after))
        # The figures computed before the runs are shown first, marked as being updated, and
        # the page reloads by itself (Refresh: 1) once the server has newer ones.
        self.get("/stats")
        self.wait.until(EC.presence_of_element_located((By.ID, "stats")))
        updating = self.finds("#stats-updating")
        check(updating, "/stats first shows the figures from before the runs, marked as updating",
              repr([r.text for r in self.finds("table#stats tbody tr")]))

        def has_row(driver):
            rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "table#stats tbody tr")]
            return any(r.startswith("web-release") for r in rows) and \
                not driver.find_elements(By.ID, "stats-updating")
        try:
            self.wait.until(has_row)
        except Exception:
            rows = [r.text for r in self.finds("table#stats tbody tr")]
            check(False, "/stats reloads itself to the figures with web-release's runs", repr(rows))
        ok("/stats reloaded itself to the figures with web-release's runs")
        self.shot("stats")

    def browser_console(self):
        severe = self.console_errors()
        if severe is None:
            print("note: this chromedriver does not hand out the console log", flush=True)
            return
        severe = self.console_backlog + severe
        self.expect(not severe, "no other errors in the browser console",
                    "; ".join(e.get("message", "") for e in severe))

    def copy_docs(self):
        if not self.args.docs_dir:
            return
        os.makedirs(self.args.docs_dir, exist_ok=True)
        for name, png in DOCS_SHOTS.items():
            shutil.copyfile(self.shots[name], os.path.join(self.args.docs_dir, png))
        ok("copied %d screenshots to %s" % (len(DOCS_SHOTS), self.args.docs_dir))

    def run(self):
        self.prepare()
        self.start_server()
        self.start_browser()
        self.login()
        self.overview_and_plans()
        self.approve()
        self.watch_run()
        self.report()
        self.runs_and_stats()
        self.browser_console()
        if not self.failures:
            self.copy_docs()

    def cleanup(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception as e:  # the browser may be gone already
                print("note: closing the browser:", e, file=sys.stderr)
        if self.run_proc is not None and self.run_proc.poll() is None:
            self.run_proc.terminate()  # runbook rolls back on SIGTERM
            try:
                self.run_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.run_proc.kill()
                self.run_proc.wait()
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                print("note: `runbook serve` ignored SIGTERM; killing it", file=sys.stderr)
                self.server.kill()
                self.server.wait()
        if self.server is not None:
            self.server.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dump_logs(self):
        for name in ("serve.stderr", "run.out"):
            path = os.path.join(self.tmp, name)
            if os.path.exists(path) and os.path.getsize(path):
                print("--- %s" % name, file=sys.stderr)
                print(open(path, errors="replace").read()[-4000:], file=sys.stderr)
        if self.driver is not None:
            try:
                self.driver.save_screenshot(os.path.join(self.args.screenshots, "failure.png"))
                print("--- page at the failure: %s (screenshot failure.png)" % self.path(),
                      file=sys.stderr)
                print(self.find("body").text[:3000], file=sys.stderr)
                self.console_errors()
            except Exception as e:
                print("note: no page at the failure:", e, file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runbook", required=True, help="the runbook binary to test")
    parser.add_argument("--screenshots", default="build/artifacts/serve",
                        help="where to write a screenshot of every page (default %(default)s)")
    parser.add_argument("--docs-dir", help="also copy one screenshot per page here (docs/serve)")
    args = parser.parse_args()
    for path in (args.runbook, CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            print("serve_browser_test: FAIL: %s is missing (scripts/setup.sh %s it)" %
                  (path, "builds" if path == args.runbook else "installs"), file=sys.stderr)
            return 1

    started = time.monotonic()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WATCHDOG_SECONDS)
    test = ServeBrowserTest(args)
    failure = None
    try:
        test.run()
    except (CheckFailed, Watchdog, TimeoutException, WebDriverException, AssertionError,
            subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
        # selenium's own messages carry chromedriver's stack of addresses: leave it out.
        failure = "%s: %s" % (type(e).__name__, getattr(e, "msg", None) or e)
        test.dump_logs()
    finally:
        signal.alarm(0)
        test.cleanup()
    elapsed = time.monotonic() - started
    failures = test.failures + ([failure] if failure else [])
    if failures:
        print("serve_browser_test: FAIL after %.1f s (screenshots in %s):\n  %s" %
              (elapsed, args.screenshots, "\n  ".join(failures)), file=sys.stderr)
        return 1
    print("serve_browser_test: PASS in %.1f s (screenshots in %s)" % (elapsed, args.screenshots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
