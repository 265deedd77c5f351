import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Observable, throwError } from 'rxjs';
import { acceptCorrelationId, currentCorrelationId } from '../context/request-context';
import { AppError, payloadTooLarge } from './app-error';
import { codeForStatus, Problem, problem, PROBLEM_CONTENT_TYPE } from './problem';

/** What ProblemFilter's observers see of the failed request: a FastifyRequest, or a bare route's equivalent. */
export interface ObservedRequest {
  method: string;
  routeOptions?: { url?: string };
}

interface ErrorObserver {
  (error: unknown, problem: Problem, request: ObservedRequest): void;
}

/**
 * Turns anything thrown into RFC 9457 problem+json. Our AppErrors keep their code and detail;
 * framework errors get a code from their status; anything else is a 500 whose detail says nothing
 * about the cause (the log line, keyed by correlation id, has the stack).
 */
export function toProblem(error: unknown, correlationId: string): { problem: Problem; headers: Record<string, string> } {
  if (error instanceof AppError) {
    const { headers = {}, ...extra } = error.extra;
    return { problem: problem(error.status, error.code, error.detail, correlationId, extra), headers };
  }
  // Nest wraps Fastify's body-parsing errors in an HttpException whose `cause` keeps the code.
  const fastifyCode = (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code;
  if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') return toProblem(payloadTooLarge(), correlationId);
  if (fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return {
      problem: problem(415, 'unsupported_media_type', 'Send the body as application/json.', correlationId),
      headers: {},
    };
  }
  if (
    fastifyCode === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    fastifyCode === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    fastifyCode === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' ||
    error instanceof SyntaxError ||
    (error as { name?: string })?.name === 'SyntaxError'
  ) {
    return { problem: problem(400, 'malformed_json', 'The request body is not valid JSON.', correlationId), headers: {} };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    const code =
      typeof response === 'object' && response && typeof (response as { code?: unknown }).code === 'string'
        ? (response as { code: string }).code
        : codeForStatus(status);
    const detail =
      status === 404 ? 'No such route.' : status >= 500 ? 'The server could not complete the request.' : error.message;
    return { problem: problem(status, code, detail, correlationId), headers: {} };
  }
  const status = (error as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { problem: problem(status, codeForStatus(status), 'The request could not be processed.', correlationId), headers: {} };
  }
  return {
    problem: problem(500, 'internal_error', 'The server could not complete the request.', correlationId),
    headers: {},
  };
}

export function sendProblem(reply: FastifyReply, error: unknown, correlationId: string): Problem {
  const { problem: body, headers } = toProblem(error, correlationId);
  void reply.status(body.status).headers(headers).header('content-type', PROBLEM_CONTENT_TYPE).send(body);
  return body;
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private static readonly logger = new Logger('http');
  private static observers: ErrorObserver[] = [];

  /** Lets the incident tracker count errors without the filter knowing about it. */
  static observe(observer: ErrorObserver): void {
    ProblemFilter.observers.push(observer);
  }

  /**
   * What follows every problem answer, the filter's and the bare routes' (rendered outside Nest):
   * a 5xx is logged with its cause, and the observers see it.
   */
  static report(error: unknown, problem: Problem, request: ObservedRequest): void {
    if (problem.status >= 500) {
      ProblemFilter.logger.error({ err: error, route: request.routeOptions?.url, code: problem.code }, 'request failed');
    }
    for (const observer of ProblemFilter.observers) observer(error, problem, request);
  }

  catch(error: unknown, host: ArgumentsHost): Observable<never> | void {
    // Consumers settle their own failures (retry / dead-letter) and need the original error,
    // with its `retryable` flag, not Nest's generic RPC error object.
    if (host.getType() !== 'http') return throwError(() => error);
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const correlationId = currentCorrelationId() ?? acceptCorrelationId(request.headers['x-correlation-id']);
    ProblemFilter.report(error, sendProblem(reply, error, correlationId), request);
  }
}
