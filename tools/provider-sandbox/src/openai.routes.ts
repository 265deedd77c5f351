import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProviderErrorResponse, openAiError } from './errors';
import { RouteResult, SandboxContext, bodyOf, handler } from './http';
import {
  bearerToken,
  isRecord,
  randomAlphanumeric,
  readNonEmptyString,
  readNumber,
  unixSeconds,
} from './util';

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

/** Text of a message whose content is a string or an array of `{type: "text", text}` parts. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const parts = content
    .map((part: unknown) => (isRecord(part) && typeof part['text'] === 'string' ? part['text'] : ''))
    .filter((text) => text !== '');
  return parts.join('\n');
}

/** A rough token count (≈ 4 characters per token) that is stable for the same input. */
function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

export interface CompletionPlan {
  id: string;
  created: number;
  model: string;
  content: string;
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
}

/**
 * OpenAI-compatible chat completions: a deterministic reply that quotes the last user message,
 * so tests can assert on it without a model.
 */
export class OpenAiSandbox {
  constructor(private readonly ctx: SandboxContext) {}

  register(app: FastifyInstance): void {
    app.post(
      '/v1/chat/completions',
      { config: { provider: 'openai' } },
      handler((request) => this.chatCompletions(request)),
    );
  }

  private chatCompletions(request: FastifyRequest): RouteResult {
    const planned = this.plan(request);
    if ('status' in planned) return planned;
    if (bodyOf(request)['stream'] === true) {
      return {
        status: 200,
        body: this.streamBody(planned),
        contentType: 'text/event-stream; charset=utf-8',
        headers: { 'cache-control': 'no-cache' },
      };
    }
    return { status: 200, body: this.completionView(planned) };
  }

  plan(request: FastifyRequest): CompletionPlan | RouteResult {
    const key = bearerToken(request.headers.authorization);
    if (key === undefined) {
      return openAiError(
        401,
        'invalid_request_error',
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        null,
      );
    }
    const input = bodyOf(request);
    const model = readNonEmptyString(input, 'model');
    if (model === undefined)
      return openAiError(400, 'invalid_request_error', 'you must provide a model parameter');
    const messages = input['messages'];
    if (!Array.isArray(messages) || messages.length === 0) {
      return openAiError(
        400,
        'invalid_request_error',
        "Missing required parameter: 'messages'.",
        'missing_required_parameter',
        'messages',
      );
    }
    const problem = this.validateMessages(messages);
    if (problem !== undefined) return problem;
    const texts = messages.map((message: unknown) =>
      isRecord(message) ? (contentText(message['content']) ?? '') : '',
    );
    const lastUser = [...messages]
      .reverse()
      .find((message: unknown) => isRecord(message) && message['role'] === 'user');
    const quoted = isRecord(lastUser) ? (contentText(lastUser['content']) ?? '') : '';
    let content = `Sandbox AI: you said "${quoted}"`;
    let finishReason: 'stop' | 'length' = 'stop';
    const maxTokens = readNumber(input, 'max_completion_tokens') ?? readNumber(input, 'max_tokens');
    if (maxTokens !== undefined && maxTokens > 0 && countTokens(content) > maxTokens) {
      content = content.slice(0, maxTokens * 4);
      finishReason = 'length';
    }
    return {
      id: `chatcmpl-${randomAlphanumeric(29)}`,
      created: unixSeconds(this.ctx.now()),
      model,
      content,
      finishReason,
      promptTokens: texts.reduce((sum, text) => sum + countTokens(text) + 4, 0),
      completionTokens: countTokens(content),
    };
  }

  private validateMessages(messages: unknown[]): ProviderErrorResponse | undefined {
    for (let index = 0; index < messages.length; index += 1) {
      const message = messages[index];
      const role = isRecord(message) ? message['role'] : undefined;
      if (typeof role !== 'string' || !ROLES.has(role)) {
        return openAiError(
          400,
          'invalid_request_error',
          `Invalid value for 'messages[${index}].role'.`,
          'invalid_value',
          `messages[${index}].role`,
        );
      }
    }
    return undefined;
  }

  private completionView(plan: CompletionPlan): Record<string, unknown> {
    return {
      id: plan.id,
      object: 'chat.completion',
      created: plan.created,
      model: plan.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: plan.content, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: plan.finishReason,
        },
      ],
      usage: {
        prompt_tokens: plan.promptTokens,
        completion_tokens: plan.completionTokens,
        total_tokens: plan.promptTokens + plan.completionTokens,
      },
      system_fingerprint: 'fp_sandbox',
    };
  }

  /** Server-sent events the way the API streams: a role chunk, content, a finish chunk, `[DONE]`. */
  private streamBody(plan: CompletionPlan): string {
    const chunk = (delta: Record<string, unknown>, finishReason: string | null): string =>
      `data: ${JSON.stringify({
        id: plan.id,
        object: 'chat.completion.chunk',
        created: plan.created,
        model: plan.model,
        system_fingerprint: 'fp_sandbox',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      })}\n\n`;
    return (
      chunk({ role: 'assistant', content: '', refusal: null }, null) +
      chunk({ content: plan.content }, null) +
      chunk({}, plan.finishReason) +
      'data: [DONE]\n\n'
    );
  }
}
