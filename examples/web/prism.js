// prism.js: the browser client library for the Prism SFU.
//
// One ES module, no dependencies, no build step:
//
//	import * as Prism from './prism.js';
//	const room = await Prism.join({ room: 'demo', name: 'Ada' });
//	room.on('track', ({ participant, publication, track }) => { ... });
//	await room.publish(cameraTrack, { source: 'camera' });
//
// README.md next to this file documents the API. The signaling protocol is
// described in signaling/PROTOCOL.md of the Prism repository.

export const PROTOCOL_VERSION = 1;

const KEEPALIVE_MS = 10_000;
const JOIN_TIMEOUT_MS = 10_000;
const ANSWER_TIMEOUT_MS = 15_000;

/** An error reported by the server or by the client library. */
export class PrismError extends Error {
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code);
    this.name = 'PrismError';
    /** The protocol error code, such as "bad_message", or a client code such as "timeout". */
    this.code = code;
    /** The human-readable message without the code. */
    this.detail = message || '';
  }
}

/**
 * Joins a room and resolves to a Room once the server has accepted the join.
 *
 * @param {object} options
 * @param {string} [options.url] WebSocket URL of the server, e.g. "wss://sfu.example.com/ws".
 *   An http(s) URL or a path is turned into the ws(s) URL on the same host.
 *   Default: "/ws" on the page's host.
 * @param {string} options.room Room name.
 * @param {string} [options.name] Display name.
 * @param {string} [options.token] Access token, if the server requires one.
 * @param {RTCIceServer[]} [options.iceServers] Default: none.
 * @param {Object<string, Function>} [options.on] Event handlers to register
 *   before the WebSocket opens, so no event can be missed.
 * @returns {Promise<Room>}
 */
export async function join(options) {
  const room = new Room(options);
  await room._connect();
  return room;
}

/** Resolves a server address to the WebSocket URL of its signaling endpoint. */
export function signalingURL(url) {
  const base = globalThis.location ? globalThis.location.href : 'http://localhost/';
  const u = new URL(url || '/ws', base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  return u.toString();
}

/**
 * A joined room. Create it with join().
 *
 * Fields (read-only for the application):
 *   id            this participant's id, given by the server
 *   name, roomName
 *   participants  Map of participant id -> RemoteParticipant (the others)
 *   localTracks   Map of MediaStreamTrack id -> LocalPublication
 *   connectionState  'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed'
 *   publishPC, subscribePC  the two RTCPeerConnections (for getStats)
 */
export class Room {
  constructor(options = {}) {
    if (!options.room) throw new PrismError('bad_options', 'room is required');
    this.url = signalingURL(options.url);
    this.roomName = options.room;
    this.name = options.name || '';
    this.id = null;
    this.participants = new Map();
    this.localTracks = new Map();
    this.connectionState = 'connecting';

    this._token = options.token || '';
    this._handlers = new Map();
    this._closed = false;
    this._ws = null;
    this._lastRx = Date.now();
    this._keepalive = null;

    // Publish connection: this client offers, one offer in flight.
    this._offerInFlight = false;
    this._pendingWaiters = []; // changes not yet in an offer
    this._inFlightWaiters = []; // changes in the offer in flight
    this._answerTimer = null;
    this._pubChain = Promise.resolve();
    this._subChain = Promise.resolve();
    this._candidateQueue = { publish: [], subscribe: [] };
    this._localStream = new MediaStream();

    for (const [event, fn] of Object.entries(options.on || {})) this.on(event, fn);

    const config = { iceServers: options.iceServers || [], bundlePolicy: 'max-bundle' };
    this.publishPC = new RTCPeerConnection(config);
    this.subscribePC = new RTCPeerConnection(config);
    this._setupPC(this.publishPC, 'publish');
    this._setupPC(this.subscribePC, 'subscribe');
    this._adaptive = options.adaptiveStream === false ? null : new AdaptiveStream(this);
  }

  // ---- events ----

  /**
   * Registers fn for event and returns a function that removes it.
   * Events: participant_joined, participant_left, track_published,
   * track_unpublished, track, track_removed, track_muted, chat, connection,
   * error, left.
   */
  on(event, fn) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(fn);
    return () => this.off(event, fn);
  }

  off(event, fn) {
    this._handlers.get(event)?.delete(fn);
  }

  _emit(event, payload) {
    for (const fn of [...(this._handlers.get(event) || [])]) {
      try {
        fn(payload);
      } catch (err) {
        console.error(`prism: "${event}" handler failed:`, err);
      }
    }
  }

  // ---- public API ----

  /**
   * Publishes a local MediaStreamTrack. Resolves with its LocalPublication once
   * the server has answered the offer that carries it.
   *
   * @param {MediaStreamTrack} track
   * @param {object} [options]
   * @param {string} [options.source] camera | microphone | screen | screen_audio.
   *   Default: microphone for audio, camera for video.
   * @param {MediaStream} [options.stream] stream to associate in the SDP.
   * @param {boolean} [options.simulcast] send the video in up to three
   *   encodings (rids q, h, f at a quarter, half and full size) so that each
   *   subscriber gets the one its tile needs. Default: on for camera video.
   * @param {string} [options.scalabilityMode] the temporal layers of each
   *   simulcast encoding (default 'L1T3' where the browser supports it), or,
   *   without simulcast, an SVC mode such as 'L3T3_KEY' for VP9 or AV1.
   * @param {string} [options.codec] the video codec to prefer, such as
   *   'video/VP9' or 'video/AV1'. Default: the browser's order (VP8 first).
   * @param {RTCRtpEncodingParameters[]} [options.encodings] explicit
   *   sendEncodings, overriding simulcast and scalabilityMode.
   */
  async publish(track, options = {}) {
    this._assertOpen();
    if (this.localTracks.has(track.id)) throw new PrismError('already_published', `track ${track.id} is published`);
    const source = options.source || (track.kind === 'audio' ? 'microphone' : 'camera');
    const muted = !track.enabled;
    this._send({ type: 'publish', track: { id: track.id, kind: track.kind, source, muted } });
    const init = { direction: 'sendonly', streams: [options.stream || this._localStream] };
    const encodings = track.kind === 'video' ? sendEncodings(track, source, options) : null;
    if (encodings) init.sendEncodings = encodings;
    const transceiver = this.publishPC.addTransceiver(track, init);
    if (options.codec) preferCodec(transceiver, options.codec);
    const publication = { id: track.id, kind: track.kind, source, muted, track, transceiver, sender: transceiver.sender };
    this.localTracks.set(track.id, publication);
    await this._renegotiate();
    return publication;
  }

  /** Stops publishing a track (a MediaStreamTrack or its id). The track itself is not stopped. */
  async unpublish(track) {
    const id = typeof track === 'string' ? track : track.id;
    const publication = this.localTracks.get(id);
    if (!publication) return;
    this.localTracks.delete(id);
    if (this._closed) return;
    this._send({ type: 'unpublish', track_id: id });
    try {
      this.publishPC.removeTrack(publication.sender);
    } catch (err) {
      console.warn('prism: removeTrack:', err);
    }
    await this._renegotiate();
  }

  /**
   * Mutes or unmutes a published track: sets track.enabled and tells the
   * others, who get a track_muted event.
   */
  setMuted(track, muted) {
    const id = typeof track === 'string' ? track : track.id;
    const publication = this.localTracks.get(id);
    if (!publication) throw new PrismError('unknown_track', `track ${id} is not published`);
    publication.track.enabled = !muted;
    if (publication.muted === !!muted) return;
    publication.muted = !!muted;
    this._send({ type: 'mute', track_id: id, muted: !!muted });
    this._emit('track_muted', { participant: null, publication, muted: !!muted, local: true });
  }

  /** Sends a chat message to everyone in the room; it comes back as a chat event. */
  chat(text) {
    this._assertOpen();
    text = String(text);
    if (!text) return;
    this._send({ type: 'chat', text });
  }

  /** Leaves the room: tells the server, closes both connections and the WebSocket. */
  leave() {
    if (this._closed) return;
    this._send({ type: 'leave' });
    this._teardown('left', 'you left the room');
  }

  /**
   * Says what this client wants of a remote video track: pause it, cap its
   * quality ('low' | 'medium' | 'high'), give the size it is shown at (in
   * device pixels; the server sends the smallest layer that fills it) or
   * cap its frame rate. Each call replaces the last. With adaptiveStream
   * (the default) the library does this itself from the <video> elements
   * showing the track; a call here takes precedence for the fields it sets.
   *
   * @param {object} publication a remote publication (from the track event)
   * @param {{paused?: boolean, quality?: string, width?: number, height?: number, fps?: number}} wants
   */
  setSubscription(publication, wants = {}) {
    const pub = publication;
    pub.wants = { ...wants };
    this._sendSubscription(pub);
  }

  _sendSubscription(pub) {
    const seen = pub.seen || {};
    const w = { ...seen, ...(pub.wants || {}) };
    const msg = {
      type: 'subscription',
      participant_id: pub.participantId,
      track_id: pub.id,
      paused: !!w.paused,
      quality: w.quality || '',
      width: Math.max(0, Math.round(w.width || 0)),
      height: Math.max(0, Math.round(w.height || 0)),
      fps: Math.max(0, Math.round(w.fps || 0)),
    };
    const key = JSON.stringify(msg);
    if (key === pub.sentSubscription) return;
    pub.sentSubscription = key;
    this._send(msg);
  }

  // Dynacast: the server asks this client to pause or resume encodings of a
  // published track that no subscriber needs.
  _handleLayers(trackId, layers) {
    const pub = this.localTracks.get(trackId);
    if (!pub) return;
    pub.layers = layers;
    pub.layersChain = (pub.layersChain || Promise.resolve()).then(async () => {
      const params = pub.sender.getParameters();
      if (!params.encodings || params.encodings.length === 0) return;
      let changed = false;
      for (const l of layers) {
        const enc = l.rid ? params.encodings.find((e) => e.rid === l.rid) : params.encodings[0];
        if (enc && enc.active !== l.active) {
          enc.active = l.active;
          changed = true;
        }
      }
      if (!changed) return;
      try {
        await pub.sender.setParameters(params);
        this._emit('layers', { publication: pub, layers });
      } catch (err) {
        console.warn('prism: dynacast setParameters:', err);
      }
    });
  }

  /** The remote publication whose media arrives on the subscribe transceiver with this mid, if any. */
  publicationByMid(mid) {
    for (const p of this.participants.values()) {
      for (const pub of p.tracks.values()) if (pub.mid === mid && pub.track) return pub;
    }
    return null;
  }

  // ---- connection ----

  _connect() {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this._teardown(err.code, err.detail, true);
        reject(err);
      };
      const timer = setTimeout(() => fail(new PrismError('timeout', 'the server did not answer the join')), JOIN_TIMEOUT_MS);
      this._onJoined = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      };
      this._onJoinError = fail;

      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (err) {
        fail(new PrismError('connection_failed', String(err.message || err)));
        return;
      }
      this._ws = ws;
      ws.onopen = () => {
        this._send({ type: 'join', version: PROTOCOL_VERSION, room: this.roomName, name: this.name, token: this._token });
      };
      ws.onmessage = (ev) => this._onMessage(ev.data);
      ws.onerror = () => {}; // onclose follows and reports
      ws.onclose = (ev) => {
        if (!settled) {
          fail(new PrismError('connection_failed', `could not reach the server at ${this.url} (WebSocket closed, code ${ev.code})`));
          return;
        }
        if (!this._closed) this._teardown('connection_lost', `the connection to the server closed (code ${ev.code})`);
      };
    });
  }

  _send(msg) {
    const ws = this._ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  _assertOpen() {
    if (this._closed) throw new PrismError('closed', 'the room has been left');
  }

  _teardown(code, message, silent = false) {
    if (this._closed) return;
    this._closed = true;
    this._adaptive?.stop();
    clearInterval(this._keepalive);
    clearTimeout(this._answerTimer);
    const err = new PrismError(code, message);
    for (const w of [...this._pendingWaiters, ...this._inFlightWaiters]) w.reject(err);
    this._pendingWaiters = [];
    this._inFlightWaiters = [];
    for (const p of this.participants.values()) {
      for (const pub of p.tracks.values()) this._detach(p, pub, silent);
    }
    this.publishPC.close();
    this.subscribePC.close();
    const ws = this._ws;
    if (ws && ws.readyState <= WebSocket.OPEN) {
      try {
        ws.close(1000, 'leave');
      } catch {
        // already closing
      }
    }
    this.connectionState = 'closed';
    if (silent) return;
    this._emit('connection', this._connectionDetail());
    this._emit('left', { code, message });
  }

  _startKeepalive() {
    this._keepalive = setInterval(() => {
      if (Date.now() - this._lastRx > 3 * KEEPALIVE_MS + 5_000) {
        this._teardown('timeout', 'no message from the server for 35 s');
        return;
      }
      this._send({ type: 'keepalive' });
    }, KEEPALIVE_MS);
  }

  _setupPC(pc, name) {
    pc.onicecandidate = (ev) => {
      const c = ev.candidate;
      if (!c || !c.candidate) return; // end of candidates
      const init = { candidate: c.candidate };
      if (c.sdpMid != null) init.sdpMid = c.sdpMid;
      if (c.sdpMLineIndex != null) init.sdpMLineIndex = c.sdpMLineIndex;
      if (c.usernameFragment != null) init.usernameFragment = c.usernameFragment;
      this._send({ type: 'candidate', pc: name, candidate: init });
    };
    pc.onconnectionstatechange = () => this._updateConnection();
    if (name === 'subscribe') pc.ontrack = () => this._reconcile();
  }

  _connectionDetail() {
    return {
      state: this.connectionState,
      signaling: this._ws ? ['connecting', 'open', 'closing', 'closed'][this._ws.readyState] : 'closed',
      publish: this.publishPC.connectionState,
      subscribe: this.subscribePC.connectionState,
    };
  }

  _updateConnection() {
    if (this._closed) return;
    let state = 'connected';
    if (!this.id) state = 'connecting';
    else {
      // Only connections that have been negotiated count.
      const states = [this.publishPC, this.subscribePC]
        .filter((pc) => pc.remoteDescription)
        .map((pc) => pc.connectionState);
      if (states.includes('failed') || states.includes('closed')) state = 'failed';
      else if (states.includes('disconnected')) state = 'disconnected';
      else if (states.includes('new') || states.includes('connecting')) state = 'connecting';
    }
    if (state === this.connectionState && this._lastDetail === JSON.stringify(this._connectionDetail())) return;
    this.connectionState = state;
    this._lastDetail = JSON.stringify(this._connectionDetail());
    this._emit('connection', this._connectionDetail());
  }

  // ---- incoming messages ----

  _onMessage(data) {
    this._lastRx = Date.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('prism: ignoring a message that is not JSON:', data);
      return;
    }
    switch (msg.type) {
      case 'joined':
        return this._handleJoined(msg);
      case 'error':
        return this._handleError(msg);
      case 'leave':
        this._send({ type: 'leave' });
        return this._teardown(msg.code || 'server_left', msg.message || 'the server ended the session');
      case 'keepalive':
        return;
      case 'participant_joined':
        return this._handleParticipantJoined(msg.participant);
      case 'participant_left':
        return this._handleParticipantLeft(msg.participant_id);
      case 'track_published':
        return this._handleTrackPublished(msg.track);
      case 'track_unpublished':
        return this._handleTrackUnpublished(msg.track);
      case 'track_muted':
        return this._handleTrackMuted(msg.track);
      case 'chat':
        return this._emit('chat', {
          from: msg.from || { id: '', name: '' },
          text: msg.text,
          time: new Date(msg.time_ms || Date.now()),
          self: !!msg.from && msg.from.id === this.id,
        });
      case 'offer':
        if (msg.pc === 'subscribe') this._subChain = this._subChain.then(() => this._handleSubscribeOffer(msg.sdp));
        return;
      case 'answer':
        if (msg.pc === 'publish') this._pubChain = this._pubChain.then(() => this._handlePublishAnswer(msg.sdp));
        return;
      case 'candidate':
        return this._handleCandidate(msg.pc, msg.candidate);
      case 'layers':
        return this._handleLayers(msg.track_id, msg.layers || []);
      default:
        console.debug('prism: ignoring message type', msg.type);
    }
  }

  _handleJoined(msg) {
    if (this.id) return;
    this.id = msg.participant_id;
    if (msg.room) this.roomName = msg.room;
    for (const p of msg.participants || []) this._addParticipant(p);
    this._startKeepalive();
    this._updateConnection();
    this._onJoined?.();
  }

  _handleError(msg) {
    const err = new PrismError(msg.code || 'error', msg.message || '');
    if (!this.id) {
      this._onJoinError?.(err);
      return;
    }
    if (msg.code === 'bad_sdp' && this._offerInFlight) this._failOffer(err);
    this._emit('error', { code: err.code, message: err.detail });
  }

  _addParticipant(p) {
    let participant = this.participants.get(p.id);
    if (!participant) {
      participant = { id: p.id, name: p.name || '', tracks: new Map() };
      this.participants.set(p.id, participant);
    } else if (p.name) {
      participant.name = p.name;
    }
    for (const t of p.tracks || []) this._upsertPublication(participant, t);
    return participant;
  }

  _upsertPublication(participant, t) {
    let pub = participant.tracks.get(t.id);
    if (!pub) {
      pub = {
        id: t.id,
        participantId: participant.id,
        kind: t.kind,
        source: t.source || (t.kind === 'audio' ? 'microphone' : 'camera'),
        muted: !!t.muted,
        codec: t.codec || '',
        track: null,
        stream: null,
        receiver: null,
        mid: null,
      };
      participant.tracks.set(t.id, pub);
      return { pub, added: true };
    }
    if (t.codec) pub.codec = t.codec;
    if (t.source) pub.source = t.source;
    pub.muted = !!t.muted;
    return { pub, added: false };
  }

  _handleParticipantJoined(p) {
    if (!p || p.id === this.id) return;
    const known = this.participants.has(p.id);
    const participant = this._addParticipant(p);
    if (!known) this._emit('participant_joined', { participant });
    for (const pub of participant.tracks.values()) this._emit('track_published', { participant, publication: pub });
    this._reconcile();
  }

  _handleParticipantLeft(id) {
    const participant = this.participants.get(id);
    if (!participant) return;
    for (const pub of participant.tracks.values()) this._detach(participant, pub);
    this.participants.delete(id);
    this._emit('participant_left', { participant });
  }

  _handleTrackPublished(t) {
    if (!t || !t.participant_id) return;
    if (t.participant_id === this.id) {
      const local = this.localTracks.get(t.id);
      if (local && t.codec) local.codec = t.codec;
      return;
    }
    let participant = this.participants.get(t.participant_id);
    if (!participant) {
      participant = this._addParticipant({ id: t.participant_id, name: '', tracks: [] });
      this._emit('participant_joined', { participant });
    }
    const { pub, added } = this._upsertPublication(participant, t);
    if (added) this._emit('track_published', { participant, publication: pub });
    this._reconcile();
  }

  _handleTrackUnpublished(t) {
    if (!t) return;
    const participant = this.participants.get(t.participant_id);
    const pub = participant?.tracks.get(t.id);
    if (!pub) return;
    this._detach(participant, pub);
    participant.tracks.delete(t.id);
    this._emit('track_unpublished', { participant, publication: pub });
  }

  _handleTrackMuted(t) {
    if (!t) return;
    if (t.participant_id === this.id) return; // our own change, already reported by setMuted
    const participant = this.participants.get(t.participant_id);
    if (!participant) return;
    const { pub } = this._upsertPublication(participant, t);
    pub.muted = !!t.muted;
    this._emit('track_muted', { participant, publication: pub, muted: pub.muted, local: false });
  }

  // ---- publish connection: one offer in flight, later changes coalesced ----

  _renegotiate() {
    return new Promise((resolve, reject) => {
      this._pendingWaiters.push({ resolve, reject });
      if (!this._offerInFlight) this._pubChain = this._pubChain.then(() => this._sendOffer());
    });
  }

  async _sendOffer() {
    if (this._offerInFlight || this._closed || this._pendingWaiters.length === 0) return;
    this._offerInFlight = true;
    const waiters = this._pendingWaiters;
    this._pendingWaiters = [];
    this._inFlightWaiters = waiters;
    try {
      const pc = this.publishPC;
      await pc.setLocalDescription(await pc.createOffer());
      if (this._closed) return;
      this._send({ type: 'offer', pc: 'publish', sdp: pc.localDescription.sdp });
      this._answerTimer = setTimeout(
        () => this._failOffer(new PrismError('timeout', 'the server did not answer the publish offer')),
        ANSWER_TIMEOUT_MS,
      );
    } catch (err) {
      this._failOffer(err);
    }
  }

  _failOffer(err) {
    clearTimeout(this._answerTimer);
    const waiters = this._inFlightWaiters;
    this._inFlightWaiters = [];
    this._offerInFlight = false;
    for (const w of waiters) w.reject(err);
    this._pubChain = this._pubChain.then(async () => {
      if (this._closed) return;
      if (this.publishPC.signalingState === 'have-local-offer') {
        try {
          await this.publishPC.setLocalDescription({ type: 'rollback' });
        } catch (e) {
          console.warn('prism: rollback failed:', e);
        }
      }
      await this._sendOffer();
    });
  }

  async _handlePublishAnswer(sdp) {
    const pc = this.publishPC;
    if (this._closed) return;
    if (!this._offerInFlight || pc.signalingState !== 'have-local-offer') {
      console.warn('prism: ignoring a publish answer with no offer in flight');
      return;
    }
    clearTimeout(this._answerTimer);
    const waiters = this._inFlightWaiters;
    this._inFlightWaiters = [];
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp });
      await this._flushCandidates('publish');
      this._offerInFlight = false;
      for (const w of waiters) w.resolve();
    } catch (err) {
      this._offerInFlight = false;
      for (const w of waiters) w.reject(err);
      this._emit('error', { code: 'bad_sdp', message: `applying the publish answer: ${err.message}` });
    }
    this._updateConnection();
    await this._sendOffer(); // changes made while the offer was in flight
  }

  // ---- subscribe connection: the server offers ----

  async _handleSubscribeOffer(sdp) {
    if (this._closed) return;
    const pc = this.subscribePC;
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await this._flushCandidates('subscribe');
      await pc.setLocalDescription(await pc.createAnswer());
      if (this._closed) return;
      this._send({ type: 'answer', pc: 'subscribe', sdp: pc.localDescription.sdp });
    } catch (err) {
      console.error('prism: subscribe offer failed:', err);
      this._emit('error', { code: 'bad_sdp', message: `applying the subscribe offer: ${err.message}` });
    }
    this._reconcile();
    this._updateConnection();
  }

  // ---- ICE candidates: queued until the connection has a remote description ----

  _handleCandidate(name, candidate) {
    if (!candidate || (name !== 'publish' && name !== 'subscribe')) return;
    const pc = name === 'publish' ? this.publishPC : this.subscribePC;
    if (!pc.remoteDescription) {
      this._candidateQueue[name].push(candidate);
      return;
    }
    pc.addIceCandidate(candidate).catch((err) => console.warn(`prism: ${name} candidate refused:`, err.message));
  }

  async _flushCandidates(name) {
    const pc = name === 'publish' ? this.publishPC : this.subscribePC;
    const queued = this._candidateQueue[name];
    this._candidateQueue[name] = [];
    for (const c of queued) {
      try {
        await pc.addIceCandidate(c);
      } catch (err) {
        console.warn(`prism: ${name} candidate refused:`, err.message);
      }
    }
  }

  // ---- remote media: match receivers to publications through the SDP ----

  // _reconcile matches the subscribe connection's receiving transceivers,
  // by the msid of their m-section (stream id = participant id, track id =
  // the publisher's track id), with the publications the signaling
  // announced, and fires track and track_removed.
  _reconcile() {
    if (this._closed) return;
    const pc = this.subscribePC;
    const active = new Map(); // participantId/trackId -> transceiver
    if (pc.remoteDescription) {
      const msids = parseMsids(pc.remoteDescription.sdp);
      for (const tr of pc.getTransceivers()) {
        if (!tr.mid || tr.stopped) continue;
        const dir = tr.currentDirection || tr.direction;
        if (dir !== 'recvonly' && dir !== 'sendrecv') continue;
        const m = msids.get(tr.mid);
        if (m) active.set(`${m.streamId}/${m.trackId}`, tr);
      }
    }
    for (const participant of this.participants.values()) {
      for (const pub of participant.tracks.values()) {
        const tr = active.get(`${participant.id}/${pub.id}`);
        if (pub.track && (!tr || tr.receiver !== pub.receiver)) this._detach(participant, pub);
        if (tr && !pub.track) {
          pub.receiver = tr.receiver;
          pub.mid = tr.mid;
          pub.track = tr.receiver.track;
          pub.stream = new MediaStream([pub.track]);
          this._emit('track', { participant, publication: pub, track: pub.track, stream: pub.stream });
        }
      }
    }
  }

  _detach(participant, pub, silent = false) {
    if (!pub.track) return;
    const track = pub.track;
    pub.track = null;
    pub.stream = null;
    pub.receiver = null;
    pub.mid = null;
    if (!silent) this._emit('track_removed', { participant, publication: pub, track });
  }
}

// ---- simulcast ----

/** The simulcast rids, lowest first, and how much each is scaled down. */
const SIMULCAST = [
  { rid: 'q', scale: 4 },
  { rid: 'h', scale: 2 },
  { rid: 'f', scale: 1 },
];

/**
 * Returns the sendEncodings for a video track, or null for the browser's
 * default: simulcast (by default for cameras) in as many encodings as the
 * picture has room for (one of at least 180 lines each), each with temporal
 * layers where the browser can; or one encoding with the SVC mode asked for.
 */
export function sendEncodings(track, source, options = {}) {
  if (options.encodings) return options.encodings;
  const simulcast = options.simulcast ?? source === 'camera';
  if (!simulcast) return options.scalabilityMode ? [{ scalabilityMode: options.scalabilityMode }] : null;
  const height = track.getSettings?.().height || 720;
  const n = height >= 720 ? 3 : height >= 360 ? 2 : 1;
  if (n === 1) return null;
  const mode = options.scalabilityMode ?? (supportsMode(options.codec || 'video/VP8', 'L1T3') ? 'L1T3' : undefined);
  return SIMULCAST.slice(3 - n).map(({ rid, scale }) => {
    const e = { rid, scaleResolutionDownBy: scale };
    if (mode) e.scalabilityMode = mode;
    return e;
  });
}

function supportsMode(mime, mode) {
  const caps = globalThis.RTCRtpSender?.getCapabilities?.('video');
  const codec = caps?.codecs.find((c) => c.mimeType.toLowerCase() === mime.toLowerCase());
  return !!codec?.scalabilityModes?.includes(mode);
}

/** Puts mime first in the transceiver's codec preferences. */
function preferCodec(transceiver, mime) {
  const caps = globalThis.RTCRtpSender?.getCapabilities?.('video');
  if (!caps || !transceiver.setCodecPreferences) return;
  const want = caps.codecs.filter((c) => c.mimeType.toLowerCase() === mime.toLowerCase());
  if (want.length === 0) throw new PrismError('unsupported_codec', `this browser cannot send ${mime}`);
  transceiver.setCodecPreferences([...want, ...caps.codecs.filter((c) => !want.includes(c))]);
}

// ---- adaptive stream ----

/** How often AdaptiveStream looks for the <video> elements showing remote tracks. */
const ADAPTIVE_SCAN_MS = 250;

/**
 * AdaptiveStream tells the server, for every remote video track, the size
 * it is shown at and whether it is shown at all, with no code from the
 * app: it finds the <video> elements whose srcObject holds the track,
 * watches their size (ResizeObserver) and visibility (IntersectionObserver),
 * and pauses every video while the page is in the background.
 */
class AdaptiveStream {
  constructor(room) {
    this.room = room;
    this.elements = new Map(); // <video> -> {width, height, visible}
    this.resize = new ResizeObserver((entries) => {
      for (const e of entries) this._measure(e.target);
      this._update();
    });
    this.intersect = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const s = this.elements.get(e.target);
        if (s) s.visible = e.isIntersecting;
      }
      this._update();
    });
    this.onVisibility = () => this._update();
    document.addEventListener('visibilitychange', this.onVisibility);
    this.timer = setInterval(() => this._scan(), ADAPTIVE_SCAN_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.resize.disconnect();
    this.intersect.disconnect();
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  _measure(el) {
    const s = this.elements.get(el);
    if (!s) return;
    const dpr = Math.min(globalThis.devicePixelRatio || 1, 2);
    s.width = Math.round(el.clientWidth * dpr);
    s.height = Math.round(el.clientHeight * dpr);
  }

  // _scan follows <video> elements as the app adds, reuses and removes them.
  _scan() {
    const seen = new Set();
    for (const el of document.querySelectorAll('video')) {
      const track = el.srcObject?.getVideoTracks?.()[0];
      if (!track || !this._publication(track)) continue;
      seen.add(el);
      if (!this.elements.has(el)) {
        this.elements.set(el, { width: 0, height: 0, visible: true });
        this._measure(el);
        this.resize.observe(el);
        this.intersect.observe(el);
      }
    }
    for (const el of [...this.elements.keys()]) {
      if (seen.has(el)) continue;
      this.resize.unobserve(el);
      this.intersect.unobserve(el);
      this.elements.delete(el);
    }
    this._update();
  }

  _publication(track) {
    for (const p of this.room.participants.values()) {
      for (const pub of p.tracks.values()) if (pub.track === track) return pub;
    }
    return null;
  }

  // _update gives each remote video track the largest size it is shown at,
  // or pauses it when no element shows it or the page is hidden.
  _update() {
    const hidden = document.visibilityState === 'hidden';
    const sizes = new Map(); // publication -> {width, height}
    for (const [el, s] of this.elements) {
      const pub = this._publication(el.srcObject?.getVideoTracks?.()[0]);
      if (!pub) continue;
      const cur = sizes.get(pub) || { width: 0, height: 0 };
      if (s.visible && s.width > 0 && s.height > 0) {
        cur.width = Math.max(cur.width, s.width);
        cur.height = Math.max(cur.height, s.height);
      }
      sizes.set(pub, cur);
    }
    for (const p of this.room.participants.values()) {
      for (const pub of p.tracks.values()) {
        if (pub.kind !== 'video' || !pub.track) continue;
        const size = sizes.get(pub);
        // A track no element shows yet is left alone: the app may not
        // have attached it.
        if (!size) continue;
        const paused = hidden || size.width === 0;
        pub.seen = paused ? { paused: true } : { width: size.width, height: size.height };
        this.room._sendSubscription(pub);
      }
    }
  }
}

/** Parses an SDP into a map of mid -> {streamId, trackId} from its a=msid lines. */
export function parseMsids(sdp) {
  const out = new Map();
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /^a=mid:(\S+)/m.exec(section);
    const msid = /^a=msid:(\S+) (\S+)/m.exec(section);
    if (mid && msid) out.set(mid[1], { streamId: msid[1], trackId: msid[2] });
  }
  return out;
}

export default { join, Room, PrismError, signalingURL, parseMsids, sendEncodings, PROTOCOL_VERSION };
