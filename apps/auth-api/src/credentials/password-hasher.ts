import { Injectable, OnModuleInit } from '@nestjs/common';
import { argon2id, hash, HashOptions, needsRehash, verify } from 'argon2';
import { randomBytes } from 'node:crypto';
import { AuthApiConfig } from '../config';

/**
 * argon2id with the configured cost. `verifyOrDummy` spends the same time when there is no
 * account to check against, so response times do not reveal which e-mails have accounts.
 */
@Injectable()
export class PasswordHasher implements OnModuleInit {
  private dummyHash = '';

  constructor(private readonly config: AuthApiConfig) {}

  private get options(): HashOptions {
    return {
      type: argon2id,
      memoryCost: this.config.ARGON2_MEMORY_COST,
      timeCost: this.config.ARGON2_TIME_COST,
      parallelism: this.config.ARGON2_PARALLELISM,
    };
  }

  async onModuleInit(): Promise<void> {
    this.dummyHash = await this.hash(randomBytes(32).toString('base64url'));
  }

  hash(password: string): Promise<string> {
    return hash(password, this.options);
  }

  /** Checks `password` against `stored`, or against a dummy hash of the same cost when there is none. */
  async verifyOrDummy(stored: string | null, password: string): Promise<boolean> {
    try {
      const ok = await verify(stored ?? this.dummyHash, password);
      return stored !== null && ok;
    } catch {
      return false;
    }
  }

  /** A hash made with older (cheaper) parameters is upgraded at the next successful login. */
  needsRehash(stored: string): boolean {
    return needsRehash(stored, this.options);
  }
}
