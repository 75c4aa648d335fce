'use strict';
// Kiln's dashboard. Every value from the server is put in the page as text (text nodes, textContent, attributes set
// one by one): nothing from outside is ever parsed as HTML. Pages refresh themselves by polling their JSON.

const POLL_MS = 2000;
const LOG_POLL_MS = 1000;
let session = null;
let timer = null;

/** An element with attributes and children; strings become text nodes. */
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'href') e.setAttribute('href', safeHref(v));
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Only this server's own paths and https links. */
function safeHref(v) {
  const s = String(v);
  return s.startsWith('/') && !s.startsWith('//') || s.startsWith('https://') ? s : '#';
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function api(path, options) {
  const r = await fetch(path, Object.assign({credentials: 'same-origin', headers: {'Accept': 'application/json'}}, options || {}));
  if (r.status === 401) {
    location.assign('/sign-in');
    throw new Error('signed out');
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || ('HTTP ' + r.status));
  return body;
}

async function act(path) {
  return api(path, {method: 'POST', headers: {'Accept': 'application/json', 'X-Kiln-Csrf': session.csrf}});
}

function status(text, error) {
  const s = document.getElementById('status');
  s.textContent = text;
  s.className = error ? 'error' : 'quiet';
}

function replace(id, node) {
  const old = document.getElementById(id);
  if (old) old.replaceWith(node); else document.getElementById('main').append(node);
}

function gib(mib) {
  const g = mib / 1024;
  return (Number.isInteger(g) ? g : g.toFixed(1)) + ' GiB';
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 1) return Math.round(seconds * 1000) + ' ms';
  if (seconds < 60) return seconds.toFixed(1) + ' s';
  const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
  if (m < 60) return m + 'm ' + s + 's';
  return Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
}

function ago(iso, nowIso) {
  if (!iso) return 'never';
  return duration(Math.max(0, (Date.parse(nowIso) - Date.parse(iso)) / 1000)) + ' ago';
}

function bar(used, total, label) {
  const pct = total > 0 ? Math.min(100, Math.round(100 * used / total)) : 0;
  const fill = h('div', {class: 'fill' + (pct >= 90 ? ' full' : '')});
  fill.style.width = pct + '%';
  return h('div', {class: 'meter', title: label}, h('div', {class: 'bar'}, fill), h('span', {class: 'meter-text'}, label));
}

function stateBadge(state) {
  return h('span', {class: 'state state-' + String(state).toLowerCase()}, String(state).toLowerCase());
}

function jobLink(id) {
  return h('a', {href: '/jobs/' + encodeURIComponent(id), class: 'job-link'}, id);
}

function every(fn, ms) {
  clearInterval(timer);
  const run = () => fn().then(() => status('updated ' + new Date().toLocaleTimeString()), e => status(e.message, true));
  run();
  timer = setInterval(run, ms || POLL_MS);
}

// ---- Fleet
async function fleet() {
  const data = await api('/dashboard/api/fleet');
  const admin = session.role === 'ADMIN';
  const rows = data.hosts.map(host => h('tr', {'data-host': host.name},
    h('td', {class: 'name'}, host.name),
    h('td', {}, stateBadge(host.state === 'ACTIVE' ? 'online' : host.state)),
    h('td', {}, (host.arch || '-') + (host.emulatedArches || []).map(a => ' + ' + a + ' (emulated)').join('')),
    h('td', {}, bar(host.usedVcpus, host.vcpus, host.usedVcpus + ' / ' + host.vcpus + ' vCPUs used, ' + Math.max(0, host.vcpus - host.usedVcpus) + ' free')),
    h('td', {}, bar(host.usedMemoryMib, host.memoryMib, gib(host.usedMemoryMib) + ' / ' + gib(host.memoryMib) + ' used, ' + gib(Math.max(0, host.memoryMib - host.usedMemoryMib)) + ' free')),
    h('td', {class: 'num'}, host.vms),
    h('td', {}, host.version || '-'),
    h('td', {}, ago(host.lastSeen, data.now)),
    admin ? h('td', {}, host.state === 'DRAINING'
      ? h('button', {type: 'button', class: 'resume', onclick: () => act('/dashboard/api/hosts/' + encodeURIComponent(host.name) + '/resume').then(fleet)}, 'Resume')
      : host.state === 'ACTIVE' ? h('button', {type: 'button', class: 'drain', onclick: () => act('/dashboard/api/hosts/' + encodeURIComponent(host.name) + '/drain').then(fleet)}, 'Drain') : '') : null));
  replace('content', h('section', {id: 'content'},
    h('h1', {}, 'Fleet ', h('span', {class: 'quiet'}, data.hosts.length + ' hosts')),
    data.hosts.length === 0 ? h('p', {class: 'quiet'}, 'No hosts yet: `kiln hosts add NAME`, then `kiln agent` on it.') :
    h('table', {id: 'hosts'}, h('thead', {}, h('tr', {}, ['Host', 'State', 'Arch', 'CPUs', 'Memory', 'VMs', 'Agent', 'Last seen'].map(t => h('th', {}, t)), admin ? h('th', {}, '') : null)),
      h('tbody', {}, rows))));
}

// ---- Queue
async function queue() {
  const data = await api('/dashboard/api/queue');
  replace('content', h('section', {id: 'content'},
    h('h1', {}, 'Queue ', h('span', {class: 'quiet'}, data.total + ' queued' + (data.total > data.jobs.length ? ', the first ' + data.jobs.length + ' shown' : ''))),
    data.jobs.length === 0 ? h('p', {class: 'quiet'}, 'Nothing waits.') :
    h('table', {id: 'queue'}, h('thead', {}, h('tr', {}, ['Job', 'Repository', 'Labels', 'Size', 'Waited', 'Why it waits'].map(t => h('th', {}, t)))),
      h('tbody', {}, data.jobs.map(j => h('tr', {'data-job': j.id},
        h('td', {}, jobLink(j.id)), h('td', {}, j.repo), h('td', {}, j.labels.join(', ')),
        h('td', {}, j.cpus + ' vCPUs, ' + gib(j.memoryMib) + ', ' + j.arch), h('td', {class: 'num'}, duration(j.waitedSeconds)),
        h('td', {class: 'why'}, j.why)))))));
}

// ---- Jobs
const jobsFilter = {state: '', repo: '', label: '', host: '', before: null, stack: []};

function jobsForm() {
  const input = (name, placeholder) => h('input', {name, id: 'filter-' + name, placeholder, value: jobsFilter[name]});
  const states = ['', 'queued', 'scheduled', 'starting', 'running', 'succeeded', 'failed', 'cancelled', 'lost'];
  const select = h('select', {name: 'state', id: 'filter-state'}, states.map(s => h('option', {value: s, selected: s === jobsFilter.state}, s || 'any state')));
  return h('form', {id: 'filters', class: 'filters', onsubmit: e => {
    e.preventDefault();
    const f = new FormData(e.target);
    for (const k of ['state', 'repo', 'label', 'host']) jobsFilter[k] = (f.get(k) || '').trim();
    jobsFilter.before = null; jobsFilter.stack = [];
    jobs();
  }}, select, input('repo', 'repository (owner/name)'), input('label', 'label'), input('host', 'host'), h('button', {type: 'submit'}, 'Filter'));
}

async function jobs() {
  const q = new URLSearchParams();
  for (const k of ['state', 'repo', 'label', 'host']) if (jobsFilter[k]) q.set(k, jobsFilter[k]);
  if (jobsFilter.before) q.set('before', jobsFilter.before);
  const data = await api('/dashboard/api/jobs?' + q);
  const pager = h('p', {class: 'pager'},
    jobsFilter.stack.length ? h('button', {type: 'button', id: 'newer', onclick: () => { jobsFilter.before = jobsFilter.stack.pop(); jobs(); }}, '← Newer') : null,
    data.next ? h('button', {type: 'button', id: 'older', onclick: () => { jobsFilter.stack.push(jobsFilter.before); jobsFilter.before = data.next; jobs(); }}, 'Older →') : null);
  replace('content', h('section', {id: 'content'},
    h('h1', {}, 'Jobs ', h('span', {class: 'quiet'}, data.total + ' match')),
    h('table', {id: 'jobs'}, h('thead', {}, h('tr', {}, ['Job', 'State', 'Name', 'Repository', 'Labels', 'Host', 'Size', 'Created'].map(t => h('th', {}, t)))),
      h('tbody', {}, data.jobs.map(j => h('tr', {'data-job': j.id},
        h('td', {}, jobLink(j.id)), h('td', {}, stateBadge(j.state)), h('td', {class: 'job-name'}, j.name), h('td', {}, j.repo),
        h('td', {}, j.labels.join(', ')), h('td', {}, j.host || '-'), h('td', {}, j.cpus + ' vCPUs, ' + gib(j.memoryMib)),
        h('td', {}, j.createdAt))))), pager));
}

// ---- One job
let logAfter = 0;

async function job(id) {
  const data = await api('/dashboard/api/jobs/' + encodeURIComponent(id));
  const j = data.job;
  const admin = session.role === 'ADMIN';
  const terminal = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'LOST'].includes(j.state);
  const fact = (k, v) => v === null || v === undefined || v === '' ? null : [h('dt', {}, k), h('dd', {}, v)];
  const gh = j.github || {};
  replace('content', h('section', {id: 'content'},
    h('h1', {}, h('span', {id: 'job-name'}, data.name), ' ', stateBadge(j.state)),
    admin && !terminal ? h('button', {type: 'button', id: 'cancel', onclick: () => {
      if (confirm('Cancel job ' + j.id + '?')) act('/dashboard/api/jobs/' + encodeURIComponent(j.id) + '/cancel').then(() => job(id), e => status(e.message, true));
    }}, 'Cancel job') : null,
    h('dl', {class: 'facts'}, fact('Job', j.id), fact('Kind', j.kind), fact('Repository', j.repo), fact('Labels', data.labels.join(', ')),
      fact('Size', j.cpus + ' vCPUs, ' + gib(j.memoryMib) + ', ' + j.diskGib + ' GiB disk, ' + j.arch), fact('Image', j.image), fact('Image digest', j.imageDigest),
      fact('Runner', gh.runnerName), fact('VM', j.vm), fact('Host', j.host), fact('Exit code', j.exitCode),
      fact('Error', j.errorCode), fact('Detail', j.detail), fact('Conclusion', gh.conclusion), fact('GitLab status', (j.gitlab || {}).status)),
    data.links.length ? h('p', {class: 'links'}, data.links.map(l => [h('a', {href: l.href, rel: 'noreferrer'}, l.title), ' '])) : null,
    h('h2', {}, 'Timeline'),
    h('ol', {id: 'timeline', class: 'timeline'}, data.steps.map(s => h('li', {class: s.current ? 'current' : ''},
      stateBadge(s.state), ' ', h('span', {class: 'at'}, s.at), ' ',
      h('span', {class: 'took'}, s.seconds === null ? '' : duration(s.seconds) + (s.current ? ' so far' : '')),
      s.notes.length ? h('ul', {class: 'notes'}, s.notes.map(n => h('li', {}, n))) : null))),
    h('h2', {}, 'Log'),
    document.getElementById('log') || h('pre', {id: 'log', class: 'log'})));
}

async function jobLog(id) {
  for (let i = 0; i < 20; i++) {
    const page = await api('/dashboard/api/jobs/' + encodeURIComponent(id) + '/log?after=' + logAfter);
    const log = document.getElementById('log');
    if (!log) return false;
    for (const e of page.entries) log.append(h('span', {class: 'stream-' + e.stream}, e.text));
    logAfter = page.next;
    if (page.finished) {
      if (!document.getElementById('log-end')) log.after(h('p', {id: 'log-end', class: 'quiet'}, 'The log is complete.'));
      return true;
    }
    if (page.entries.length < 500) return false;
  }
  return false;
}

function jobPage(id) {
  logAfter = 0;
  let done = false;
  every(async () => {
    await job(id);
    if (!done) done = await jobLog(id);
  }, LOG_POLL_MS);
}

// ---- Launches
function chart(id, buckets, outcomes, label) {
  const w = 900, hgt = 180, pad = 24;
  const max = Math.max(1, ...buckets.map(b => b.counts.reduce((a, c) => a + c, 0)));
  const bw = (w - pad) / buckets.length;
  const bars = [];
  buckets.forEach((b, i) => {
    let y = hgt - pad;
    b.counts.forEach((c, k) => {
      if (!c) return;
      const bh = (hgt - 2 * pad) * c / max;
      y -= bh;
      bars.push(svg('rect', {x: pad + i * bw, y, width: Math.max(1, bw - 1), height: bh, class: 'o-' + outcomes[k]},
        svg('title', {}, b.start + ': ' + c + ' ' + outcomes[k])));
    });
  });
  return svg('svg', {id, viewBox: '0 0 ' + w + ' ' + hgt, class: 'chart', role: 'img', 'aria-label': label},
    svg('text', {x: 0, y: 12, class: 'axis'}, String(max)), svg('line', {x1: pad, y1: hgt - pad, x2: w, y2: hgt - pad, class: 'axis'}),
    svg('text', {x: pad, y: hgt - 6, class: 'axis'}, buckets.length ? buckets[0].start.slice(0, 10) : ''),
    svg('text', {x: w - 80, y: hgt - 6, class: 'axis'}, buckets.length ? buckets[buckets.length - 1].start.slice(0, 10) : ''), bars);
}

function usageTable(id, title, rows) {
  const s = v => v === null || v === undefined ? '-' : duration(v);
  return [h('h2', {}, title), rows.length === 0 ? h('p', {class: 'quiet'}, 'No jobs in these 14 days.') :
    h('table', {id}, h('thead', {}, h('tr', {}, ['Name', 'Jobs', 'VM-minutes', 'Queue wait p50', 'p95'].map(t => h('th', {}, t)))),
      h('tbody', {}, rows.map(r => h('tr', {}, h('td', {}, r.name), h('td', {class: 'num'}, r.jobs), h('td', {class: 'num'}, r.vmMinutes.toFixed(1)),
        h("td", {class: "num"}, s(r.queueWaitP50)), h("td", {class: "num"}, s(r.queueWaitP95))))))];
}

async function launches() {
  const data = await api('/dashboard/api/launches');
  const total = data.days.reduce((a, b) => a + b.counts.reduce((x, y) => x + y, 0), 0);
  replace('content', h('section', {id: 'content'},
    h('h1', {}, 'Launches ', h('span', {class: 'quiet'}, total + ' VMs in 14 days')),
    h('p', {class: 'legend'}, data.outcomes.map(o => h('span', {class: 'key o-' + o}, o))),
    h('h2', {}, 'Per day'), chart('per-day', data.days, data.outcomes, 'VM launches per day by outcome'),
    h('h2', {}, 'Per hour'), chart('per-hour', data.hours, data.outcomes, 'VM launches per hour by outcome'),
    usageTable('repositories', 'Repositories', data.repositories), usageTable('organisations', 'Organisations', data.organisations)));
}

async function start() {
  session = await api('/dashboard/api/session');
  document.getElementById('role').textContent = session.role === 'ADMIN' ? 'admin' : 'viewer';
  document.getElementById('sign-out').addEventListener('click', () =>
    act('/sign-out').finally(() => location.assign('/sign-in')));
  const path = location.pathname;
  const section = path.split('/')[1] || 'fleet';
  const nav = document.getElementById('nav-' + section);
  if (nav) nav.classList.add('here');
  document.getElementById('main').replaceChildren();
  if (section === 'jobs' && path.split('/').length > 2) {
    jobPage(decodeURIComponent(path.split('/')[2]));
  } else if (section === 'jobs') {
    document.getElementById('main').append(jobsForm());
    every(() => jobsFilter.before ? Promise.resolve() : jobs());
    jobs();
  } else if (section === 'queue') {
    every(queue);
  } else if (section === 'launches') {
    every(launches, 10000);
  } else {
    every(fleet);
  }
}

start().catch(e => status(e.message, true));
