// `multinet dataplane`: placeholder registration, replaced by the owner of this command.
import type { Command } from 'commander';

export function register(_program: Command): void {}
