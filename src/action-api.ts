/**
 * The API hosted actions can import (`import { activation } from 'semirt'`): the context of the
 * activation that is running, isolated per activation even with many in flight.
 */
export { activation, type ActivationContext } from './proxy/activation-context.js';
