// app.js: the Prism demo page. All talk with the server goes through
// prism.js; this file is only the user interface.
//
// URL parameters:
//   room, name    fill the form
//   autojoin=1    join at once
//   publish=0     join as a viewer, without camera and microphone
//   video=WxH@FPS camera capture size, default 640x360@30
//   ws=URL        signaling URL, default /ws on this host

import * as Prism from './prism.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

const ui = {
  lobby: $('lobby'),
  form: $('join-form'),
  roomInput: $('room-input'),
  nameInput: $('name-input'),
  publishInput: $('publish-input'),
  joinButton: $('join-button'),
  lobbyMessage: $('lobby-message'),
  call: $('call'),
  roomName: $('room-name'),
  peopleCount: $('people-count'),
  conn: $('conn'),
  connText: $('conn-text'),
  grid: $('grid'),
  chatLog: $('chat-log'),
  chatForm: $('chat-form'),
  chatInput: $('chat-input'),
  btnMic: $('btn-mic'),
  btnCamera: $('btn-camera'),
  btnScreen: $('btn-screen'),
  btnChat: $('btn-chat'),
  btnLeave: $('btn-leave'),
  toasts: $('toasts'),
};

/** Everything the page knows; one object, reset on each join. */
const app = {
  state: 'idle', // idle | joining | joined | left
  room: null,
  mic: null, // local microphone MediaStreamTrack
  camera: null, // local camera MediaStreamTrack
  screen: null, // local screen MediaStreamTrack
  tiles: new Map(), // key -> Tile
  chat: [], // {fromId, from, text, self, time}
  errors: [],
  lastLeave: null, // {code, message} of the last session's end
  statsTimer: null,
};

// ---------------------------------------------------------------- lobby

ui.roomInput.value = params.get('room') || 'demo';
ui.nameInput.value = params.get('name') || localStorage.getItem('prism.name') || `Guest ${Math.floor(100 + Math.random() * 900)}`;
ui.publishInput.checked = params.get('publish') !== '0';

ui.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  joinRoom({ room: ui.roomInput.value.trim(), name: ui.nameInput.value.trim(), publish: ui.publishInput.checked });
});

function lobbyMessage(text, isError = false) {
  ui.lobbyMessage.textContent = text;
  ui.lobbyMessage.classList.toggle('error', isError);
}

function videoConstraints() {
  const m = /^(\d+)x(\d+)(?:@(\d+))?$/.exec(params.get('video') || '');
  const [w, h, fps] = m ? [+m[1], +m[2], +(m[3] || 30)] : [640, 360, 30];
  return { width: { ideal: w }, height: { ideal: h }, frameRate: { ideal: fps } };
}

// ---------------------------------------------------------------- join / leave

async function joinRoom({ room, name, publish }) {
  if (!room || app.state === 'joining' || app.state === 'joined') return;
  app.state = 'joining';
  ui.joinButton.disabled = true;
  lobbyMessage('Joining…');
  localStorage.setItem('prism.name', name);

  let media = null;
  if (publish) {
    try {
      media = await navigator.mediaDevices.getUserMedia({ audio: true, video: videoConstraints() });
    } catch (err) {
      toast(`Camera and microphone unavailable (${err.name}); joining without them.`, true);
    }
  }

  let r;
  try {
    r = await Prism.join({
      url: params.get('ws') || undefined,
      room,
      name,
      on: {
        connection: onConnection,
        participant_joined: ({ participant }) => {
          addParticipant(participant);
          systemLine(`${displayName(participant)} joined`);
        },
        participant_left: ({ participant }) => {
          removeParticipant(participant);
          systemLine(`${displayName(participant)} left`);
        },
        track_published: ({ participant }) => refreshParticipant(participant),
        track_unpublished: ({ participant, publication }) => {
          detachPublication(participant, publication);
          refreshParticipant(participant);
        },
        track: ({ participant, publication }) => attachPublication(participant, publication),
        track_removed: ({ participant, publication }) => detachPublication(participant, publication),
        track_muted: ({ participant, local }) => (local ? refreshLocal() : refreshParticipant(participant)),
        chat: onChat,
        error: ({ code, message }) => {
          app.errors.push({ code, message });
          toast(`Server: ${message || code}`, true);
        },
        left: onLeft,
      },
    });
  } catch (err) {
    for (const t of media?.getTracks() || []) t.stop();
    app.state = 'idle';
    ui.joinButton.disabled = false;
    app.errors.push({ code: err.code || 'error', message: err.message });
    lobbyMessage(`Could not join: ${err.detail || err.message}`, true);
    return;
  }

  app.room = r;
  app.state = 'joined';
  app.chat = [];
  ui.chatLog.replaceChildren();
  ui.roomName.textContent = r.roomName;
  ui.lobby.hidden = true;
  ui.call.hidden = false;
  ui.joinButton.disabled = false;
  lobbyMessage('');
  document.title = `${r.roomName} · Prism`;

  ensureTile('local:camera', { local: true, kind: 'camera', name: `${name || 'You'} (you)` });
  for (const p of r.participants.values()) addParticipant(p);
  onConnection({ state: r.connectionState });

  if (media) {
    app.mic = media.getAudioTracks()[0] || null;
    app.camera = media.getVideoTracks()[0] || null;
    // Both publishes happen before the first answer: they go out as one offer.
    const jobs = [];
    if (app.mic) jobs.push(r.publish(app.mic, { source: 'microphone' }));
    if (app.camera) jobs.push(r.publish(app.camera, { source: 'camera' }));
    refreshLocal();
    Promise.all(jobs).catch((err) => {
      app.errors.push({ code: err.code || 'publish_failed', message: err.message });
      toast(`Publishing failed: ${err.message}`, true);
    });
  }
  refreshLocal();
  app.statsTimer = setInterval(updateStats, 1000);
}

function leaveRoom() {
  app.room?.leave();
}

function onLeft({ code, message }) {
  app.lastLeave = { code, message };
  clearInterval(app.statsTimer);
  for (const t of [app.mic, app.camera, app.screen]) t?.stop();
  app.mic = app.camera = app.screen = null;
  for (const key of [...app.tiles.keys()]) removeTile(key);
  app.room = null;
  app.state = 'left';
  ui.call.hidden = true;
  ui.lobby.hidden = false;
  document.title = 'Prism';
  if (code === 'left') lobbyMessage('You left the room.');
  else lobbyMessage(`Disconnected: ${message || code}`, true);
}

window.addEventListener('pagehide', () => app.room?.leave());

// ---------------------------------------------------------------- participants and tiles

function displayName(p) {
  return p.name || `Guest ${p.id.slice(0, 4)}`;
}

function addParticipant(p) {
  ensureTile(`${p.id}:camera`, { participantId: p.id, kind: 'camera', name: displayName(p) });
  for (const pub of p.tracks.values()) if (pub.track) attachPublication(p, pub);
  refreshParticipant(p);
  updateCount();
}

function removeParticipant(p) {
  for (const key of [...app.tiles.keys()]) if (app.tiles.get(key).participantId === p.id) removeTile(key);
  updateCount();
}

function updateCount() {
  const n = (app.room?.participants.size || 0) + 1;
  ui.peopleCount.textContent = n === 1 ? 'Only you' : `${n} people`;
}

function tileKeyFor(participantId, source) {
  const kind = source === 'screen' || source === 'screen_audio' ? 'screen' : 'camera';
  return { key: `${participantId}:${kind}`, kind };
}

/**
 * A tile is one video surface: a participant's camera (with their
 * microphone) or a screen share.
 */
function ensureTile(key, { participantId = null, local = false, kind, name }) {
  let tile = app.tiles.get(key);
  if (tile) return tile;
  const el = document.createElement('div');
  el.className = `tile ${kind} no-video${local ? ' local' : ''}`;
  el.dataset.key = key;
  if (participantId) el.dataset.participantId = participantId;
  el.dataset.kind = kind;

  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true;

  const avatar = document.createElement('div');
  avatar.className = 'avatar';
  const initials = document.createElement('span');
  initials.textContent = initialsOf(name);
  initials.style.setProperty('--avatar', colorFor(participantId || 'local'));
  avatar.append(initials);

  const label = document.createElement('div');
  label.className = 'label';
  const nameEl = document.createElement('span');
  nameEl.className = 'name';
  nameEl.textContent = kind === 'screen' ? `${name} · screen` : name;
  label.append(icon('i-mic-off', 'mic-off', 'Microphone muted'), icon('i-cam-off', 'cam-off', 'Camera off'), nameEl);

  const stats = document.createElement('div');
  stats.className = 'stats';

  el.append(video, avatar, label, stats);
  tile = { key, participantId, local, kind, el, video, nameEl, statsEl: stats, audio: new Map(), videoPub: null, prev: null, stats: null };
  app.tiles.set(key, tile);

  // Local camera first, screens next, then cameras in join order.
  if (local && kind === 'camera') ui.grid.prepend(el);
  else if (kind === 'screen') ui.grid.insertBefore(el, ui.grid.querySelector('.tile:not(.local.camera)'));
  else ui.grid.append(el);
  layout();
  return tile;
}

function removeTile(key) {
  const tile = app.tiles.get(key);
  if (!tile) return;
  tile.video.srcObject = null;
  for (const a of tile.audio.values()) a.srcObject = null;
  tile.el.remove();
  app.tiles.delete(key);
  layout();
}

function icon(id, cls, title) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', cls);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', title);
  const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
  use.setAttribute('href', `#${id}`);
  svg.append(use);
  return svg;
}

function initialsOf(name) {
  const words = String(name || '?').replace(/\(you\)/, '').trim().split(/\s+/);
  return (words[0][0] + (words.length > 1 ? words[words.length - 1][0] : '')).toUpperCase();
}

function colorFor(id) {
  let h = 2166136261;
  for (const c of id) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return `hsl(${h % 360} 45% 42%)`;
}

function attachPublication(participant, pub) {
  if (!pub.track) return;
  const { key, kind } = tileKeyFor(participant.id, pub.source);
  const tile = ensureTile(key, { participantId: participant.id, kind, name: displayName(participant) });
  if (pub.kind === 'video') {
    tile.videoPub = pub;
    tile.video.srcObject = pub.stream;
    tile.video.play().catch(() => {});
  } else {
    let a = tile.audio.get(pub.id);
    if (!a) {
      a = document.createElement('audio');
      a.autoplay = true;
      tile.audio.set(pub.id, a);
      tile.el.append(a);
    }
    a.srcObject = pub.stream;
    a.play().catch(() => offerAudioUnlock(tile));
  }
  refreshParticipant(participant);
}

function detachPublication(participant, pub) {
  const { key, kind } = tileKeyFor(participant.id, pub.source);
  const tile = app.tiles.get(key);
  if (!tile) return;
  if (tile.videoPub === pub) {
    tile.videoPub = null;
    tile.video.srcObject = null;
    tile.prev = null;
  }
  const a = tile.audio.get(pub.id);
  if (a) {
    a.srcObject = null;
    a.remove();
    tile.audio.delete(pub.id);
  }
  if (kind === 'screen' && !tile.videoPub && tile.audio.size === 0) removeTile(key);
  else refreshParticipant(participant);
}

// Browsers may block audio that starts without a user gesture (autojoin).
function offerAudioUnlock(tile) {
  if (tile.el.querySelector('.unmute-audio')) return;
  const b = document.createElement('button');
  b.className = 'unmute-audio';
  b.textContent = 'Click to hear audio';
  b.onclick = () => {
    for (const t of app.tiles.values()) for (const a of t.audio.values()) a.play().catch(() => {});
    for (const el of document.querySelectorAll('.unmute-audio')) el.remove();
  };
  tile.el.append(b);
}

/** Applies a remote participant's mute and camera state to their tiles. */
function refreshParticipant(p) {
  if (!p || !app.room) return;
  const pubs = [...p.tracks.values()];
  const mic = pubs.find((x) => x.source === 'microphone');
  const cam = pubs.find((x) => x.source === 'camera');
  const camTile = app.tiles.get(`${p.id}:camera`);
  if (camTile) {
    camTile.nameEl.textContent = displayName(p);
    setTileState(camTile, {
      micMuted: !!mic && mic.muted,
      cameraOff: !cam || cam.muted,
      noVideo: !cam || cam.muted || !cam.track,
    });
  }
  const screenTile = app.tiles.get(`${p.id}:screen`);
  if (screenTile) {
    const scr = pubs.find((x) => x.source === 'screen');
    setTileState(screenTile, { micMuted: false, cameraOff: false, noVideo: !scr || !scr.track || scr.muted });
  }
}

function refreshLocal() {
  const room = app.room;
  const tile = app.tiles.get('local:camera');
  const micPub = app.mic && room?.localTracks.get(app.mic.id);
  const camPub = app.camera && room?.localTracks.get(app.camera.id);
  const micMuted = !app.mic || !!micPub?.muted;
  const cameraOff = !app.camera || !!camPub?.muted;
  if (tile) {
    if (app.camera && tile.video.srcObject?.getVideoTracks()[0] !== app.camera) {
      tile.video.srcObject = new MediaStream([app.camera]);
      tile.video.play().catch(() => {});
    }
    setTileState(tile, { micMuted, cameraOff, noVideo: cameraOff });
  }
  setButton(ui.btnMic, micMuted, micMuted ? 'i-mic-off' : 'i-mic', app.mic ? (micMuted ? 'Unmute microphone' : 'Mute microphone') : 'Turn microphone on');
  setButton(ui.btnCamera, cameraOff, cameraOff ? 'i-cam-off' : 'i-cam', app.camera ? (cameraOff ? 'Turn camera on' : 'Turn camera off') : 'Turn camera on');
  ui.btnScreen.classList.toggle('active', !!app.screen);
  ui.btnScreen.title = app.screen ? 'Stop sharing' : 'Share screen';
  ui.btnScreen.querySelector('span').textContent = app.screen ? 'Stop share' : 'Share';
}

function setButton(button, off, iconId, title) {
  button.classList.toggle('off', off);
  button.setAttribute('aria-pressed', String(off));
  button.title = title;
  button.querySelector('use').setAttribute('href', `#${iconId}`);
}

function setTileState(tile, { micMuted, cameraOff, noVideo }) {
  tile.el.classList.toggle('mic-muted', micMuted);
  tile.el.classList.toggle('camera-off', cameraOff);
  tile.el.classList.toggle('no-video', noVideo);
  tile.el.dataset.micMuted = String(micMuted);
  tile.el.dataset.cameraOff = String(cameraOff);
}

/**
 * Sizes the grid so that every tile is 16:9 and as large as the stage
 * allows, and centers a last row that is not full. The grid has two
 * half-width tracks per column and each tile spans two, so the first tile of
 * a short last row can start half a tile further right.
 */
function layout() {
  const tiles = [...ui.grid.children];
  const n = Math.max(1, tiles.length);
  const gap = 10;
  const W = ui.grid.clientWidth;
  const H = ui.grid.clientHeight;
  if (!W || !H) return;
  let best = { cols: 1, w: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = Math.min((W - gap * (cols - 1)) / cols, ((H - gap * (rows - 1)) / rows) * (16 / 9));
    if (w > best.w) best = { cols, w };
  }
  const { cols } = best;
  ui.grid.style.setProperty('--cols', cols);
  ui.grid.style.setProperty('--tile-w', `${Math.floor(best.w)}px`);
  const lastRowStart = (Math.ceil(n / cols) - 1) * cols;
  const short = cols - (n - lastRowStart);
  tiles.forEach((el, i) => {
    el.style.gridColumn = i === lastRowStart && short > 0 ? `${short + 1} / span 2` : '';
  });
}
new ResizeObserver(layout).observe(ui.grid);

// ---------------------------------------------------------------- controls

async function toggleMic() {
  const room = app.room;
  if (!room) return;
  if (!app.mic) {
    try {
      const s = await navigator.mediaDevices.getUserMedia({ audio: true });
      app.mic = s.getAudioTracks()[0];
      refreshLocal();
      await room.publish(app.mic, { source: 'microphone' });
    } catch (err) {
      toast(`Microphone: ${err.message}`, true);
    }
  } else {
    room.setMuted(app.mic, !room.localTracks.get(app.mic.id)?.muted);
  }
  refreshLocal();
}

async function toggleCamera() {
  const room = app.room;
  if (!room) return;
  if (!app.camera) {
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: videoConstraints() });
      app.camera = s.getVideoTracks()[0];
      refreshLocal();
      await room.publish(app.camera, { source: 'camera' });
    } catch (err) {
      toast(`Camera: ${err.message}`, true);
    }
  } else {
    // Camera off is a mute: the track keeps sending (black) frames and the
    // others show the avatar. Turning it on again needs no renegotiation.
    room.setMuted(app.camera, !room.localTracks.get(app.camera.id)?.muted);
  }
  refreshLocal();
}

async function toggleScreen() {
  const room = app.room;
  if (!room) return;
  if (app.screen) {
    await stopScreen();
    return;
  }
  let track;
  try {
    track = await captureScreen();
  } catch (err) {
    if (err.name !== 'NotAllowedError') toast(`Screen share: ${err.message}`, true);
    return;
  }
  app.screen = track;
  track.contentHint = 'detail';
  track.addEventListener('ended', () => stopScreen());
  const tile = ensureTile('local:screen', { local: true, kind: 'screen', name: 'Your screen' });
  tile.video.srcObject = new MediaStream([track]);
  tile.video.play().catch(() => {});
  setTileState(tile, { micMuted: false, cameraOff: false, noVideo: false });
  refreshLocal();
  try {
    await room.publish(track, { source: 'screen' });
  } catch (err) {
    toast(`Screen share: ${err.message}`, true);
  }
}

async function captureScreen() {
  const s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
  return s.getVideoTracks()[0];
}

async function stopScreen() {
  const track = app.screen;
  if (!track) return;
  app.screen = null;
  removeTile('local:screen');
  track.stop();
  refreshLocal();
  try {
    await app.room?.unpublish(track);
  } catch (err) {
    toast(`Stop sharing: ${err.message}`, true);
  }
}

ui.btnMic.addEventListener('click', toggleMic);
ui.btnCamera.addEventListener('click', toggleCamera);
ui.btnScreen.addEventListener('click', toggleScreen);
ui.btnLeave.addEventListener('click', leaveRoom);
ui.btnChat.addEventListener('click', () => {
  ui.call.classList.toggle('chat-hidden');
  ui.btnChat.classList.toggle('active', !ui.call.classList.contains('chat-hidden'));
  layout();
});
ui.btnChat.classList.add('active');

// ---------------------------------------------------------------- connection indicator

const connLabels = {
  connecting: 'Connecting…',
  connected: 'Connected',
  disconnected: 'Reconnecting…',
  failed: 'Connection failed',
  closed: 'Disconnected',
};

function onConnection({ state }) {
  ui.conn.dataset.state = state;
  ui.connText.textContent = connLabels[state] || state;
}

// ---------------------------------------------------------------- chat

ui.chatForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text || !app.room) return;
  app.room.chat(text);
  ui.chatInput.value = '';
});

function onChat({ from, text, time, self }) {
  app.chat.push({ fromId: from.id, from: from.name, text, self, time: time.getTime() });
  const li = document.createElement('li');
  if (self) li.className = 'self';
  const meta = document.createElement('div');
  meta.className = 'meta';
  const who = document.createElement('b');
  who.textContent = self ? 'You' : from.name || 'Guest';
  meta.append(who, time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  const body = document.createElement('div');
  body.textContent = text;
  li.append(meta, body);
  appendChat(li);
}

function systemLine(text) {
  const li = document.createElement('li');
  li.className = 'system';
  li.textContent = text;
  appendChat(li);
}

function appendChat(li) {
  const log = ui.chatLog;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(li);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

// ---------------------------------------------------------------- stats

/** Samples getStats for every tile once a second: resolution, frame rate, bitrate. */
async function updateStats() {
  const room = app.room;
  if (!room) return;
  await Promise.all(
    [...app.tiles.values()].map(async (tile) => {
      try {
        const sample = await sampleTile(room, tile);
        if (!sample) {
          tile.statsEl.textContent = '';
          tile.stats = null;
          return;
        }
        const prev = tile.prev;
        tile.prev = sample;
        if (!prev) return;
        const dt = (sample.t - prev.t) / 1000;
        const kbps = Math.max(0, Math.round(((sample.bytes - prev.bytes) * 8) / dt / 1000));
        const fps = sample.fps ?? Math.max(0, Math.round((sample.frames - prev.frames) / dt));
        tile.stats = { width: sample.width, height: sample.height, fps, kbps };
        const parts = [];
        if (sample.width) parts.push(`${sample.width}×${sample.height}`, `${Math.round(fps)} fps`);
        parts.push(kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mb/s` : `${kbps} kb/s`);
        tile.statsEl.textContent = parts.join(' · ');
      } catch {
        // the connection closed while sampling
      }
    }),
  );
}

async function sampleTile(room, tile) {
  const reports = [];
  if (tile.local) {
    const tracks = tile.kind === 'screen' ? [app.screen] : [app.camera, app.mic];
    for (const t of tracks) {
      const pub = t && room.localTracks.get(t.id);
      if (pub) reports.push(await pub.sender.getStats());
    }
  } else {
    if (tile.videoPub?.receiver) reports.push(await tile.videoPub.receiver.getStats());
    const p = room.participants.get(tile.participantId);
    for (const id of tile.audio.keys()) {
      const pub = p?.tracks.get(id);
      if (pub?.receiver) reports.push(await pub.receiver.getStats());
    }
  }
  if (reports.length === 0) return null;
  const s = { t: performance.now(), bytes: 0, frames: 0, width: 0, height: 0, fps: undefined };
  for (const report of reports) {
    for (const r of report.values()) {
      if (r.type !== 'inbound-rtp' && r.type !== 'outbound-rtp') continue;
      s.bytes += (r.type === 'inbound-rtp' ? r.bytesReceived : r.bytesSent) || 0;
      if (r.kind === 'video') {
        s.frames += (r.type === 'inbound-rtp' ? r.framesDecoded : r.framesEncoded) || 0;
        s.width = r.frameWidth || s.width;
        s.height = r.frameHeight || s.height;
        if (r.framesPerSecond !== undefined) s.fps = r.framesPerSecond;
      }
    }
  }
  return s;
}

// ---------------------------------------------------------------- toasts

function toast(text, isError = false) {
  const el = document.createElement('div');
  el.className = `toast${isError ? ' error' : ''}`;
  el.textContent = text;
  ui.toasts.append(el);
  setTimeout(() => el.remove(), 5000);
}

// ---------------------------------------------------------------- test hooks

/** Read-only views of the page's state for the end-to-end tests. */
window.prismTest = {
  get state() {
    return app.state;
  },
  get id() {
    return app.room?.id || null;
  },
  get room() {
    return app.room;
  },
  get chat() {
    return app.chat;
  },
  get errors() {
    return app.errors;
  },
  get lastLeave() {
    return app.lastLeave;
  },
  remoteIds: () => [...(app.room?.participants.keys() || [])],
  tiles: () =>
    [...app.tiles.values()].map((t) => ({
      key: t.key,
      participantId: t.participantId,
      local: t.local,
      kind: t.kind,
      name: t.nameEl.textContent,
      micMuted: t.el.dataset.micMuted === 'true',
      cameraOff: t.el.dataset.cameraOff === 'true',
      noVideo: t.el.classList.contains('no-video'),
      videoWidth: t.video.videoWidth,
      videoHeight: t.video.videoHeight,
      stats: t.stats,
    })),
  // Pins a tile to w×h CSS pixels (0 unpins it), or hides it: what a
  // resized or scrolled-away tile looks like to adaptive stream.
  resizeTile: (key, w, h) => {
    const el = app.tiles.get(key)?.el;
    if (!el) return false;
    el.style.width = w ? `${w}px` : '';
    el.style.height = h ? `${h}px` : '';
    return true;
  },
  hideTile: (key, hidden) => {
    const el = app.tiles.get(key)?.el;
    if (!el) return false;
    el.style.display = hidden ? 'none' : '';
    return true;
  },
  toggleMic,
  toggleCamera,
  toggleScreen,
  leave: leaveRoom,
  chatSend: (text) => app.room?.chat(text),
};

if (params.get('autojoin') === '1') {
  joinRoom({ room: ui.roomInput.value.trim(), name: ui.nameInput.value.trim(), publish: ui.publishInput.checked });
}
