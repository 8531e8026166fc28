import { EventEmitter } from 'node:events';
import type { ServerEvent } from '../../../common/api/events.js';

/** In-process fan-out of server events to WebSocket clients (and later, to other modules). */
export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(event: ServerEvent): void {
    this.emitter.emit('event', event);
  }

  subscribe(listener: (event: ServerEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
